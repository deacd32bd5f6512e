"""Audits and findings recorded without running the checks: the records a test or a replay needs.

A seeded finding carries what the service would report for its check (severity, resource type,
a reason code the check reports), so it is indistinguishable from one an audit produced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.device_defender import catalog
from sandbox.device_defender.state import AuditTask, CheckResult, Finding


@dataclass
class SeededAudit:
    """A completed audit the emulator holds, with its findings' ids per check."""

    task_id: str
    finding_ids: dict[str, list[str]] = field(default_factory=dict)

    def ids(self, check: str) -> list[str]:
        return self.finding_ids[check]


def seeded_finding(
    audit: AuditTask,
    check: str,
    finding_id: str,
    identifier: Mapping[str, Any],
    *,
    reason_code: str | None = None,
    reason: str,
    when: datetime,
    additional_info: Mapping[str, str] | None = None,
) -> Finding:
    """A non-compliant finding of `check` on the resource `identifier`, in `audit`; the reason code
    defaults to the check's first."""
    spec = catalog.CHECKS.get(check)
    if spec is None:
        raise ValueError(f"{check!r} is not an API check name the emulator knows")
    code = reason_code if reason_code is not None else spec.reason_codes[0]
    if code not in spec.reason_codes:
        raise ValueError(f"{code!r} is not a reason code {check} reports: {', '.join(spec.reason_codes)}")
    return Finding(
        finding_id=finding_id,
        task_id=audit.task_id,
        check_name=check,
        task_start_time=audit.start,
        finding_time=when,
        severity=spec.severity,
        resource_type=spec.resource_type,
        resource_identifier=dict(identifier),
        additional_info=dict(additional_info or {}),
        related_resources=[],
        reason=reason,
        reason_code=code,
        is_suppressed=False,
    )


def completed_audit(task_id: str, when: datetime, checks: Sequence[str]) -> AuditTask:
    """An on-demand audit that started and completed at `when`, its checks' results still to add."""
    return AuditTask(
        task_id=task_id,
        task_type="ON_DEMAND_AUDIT_TASK",
        start=when,
        due=when,
        checks=list(checks),
        status="COMPLETED",
        end=when,
    )


def non_compliant(count: int) -> CheckResult:
    return CheckResult("COMPLETED_NON_COMPLIANT", total=count, non_compliant=count)
