"""Verification's metrics: time to remediate per check from the finding's time (verified findings only), and
the findings checked beside those whose resource another audit had already verified remediated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from audit_remediator.errors import ResourceStateError
from audit_remediator.remediation_metrics import VerificationMetrics
from audit_remediator.resource_state import StateRecord

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


class Earlier:
    def __init__(self, verified: set[str], failing: bool = False) -> None:
        self.verified = verified
        self.failing = failing
        self.asked: list[tuple[str, str]] = []

    def verified_elsewhere(self, resource_key: str, audit_task_id: str) -> bool:
        self.asked.append((resource_key, audit_task_id))
        if self.failing:
            raise ResourceStateError("throttled")
        return resource_key in self.verified


def record(finding: str, check: str, certificate: str, found: str | None) -> StateRecord:
    return StateRecord(
        finding_id=finding,
        check=check,
        resource_identifier={"deviceCertificateId": certificate},
        action_names=("deactivate",),
        before={},
        finding_time=found,
    )


def documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_a_page_emits_time_to_remediate_per_check_and_the_recurrence_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a page: two verified findings of two checks, one not verified, one of them on a resource seen before
    earlier = Earlier({"deviceCertificateId=c-2"})
    metrics = VerificationMetrics(earlier, clock=lambda: NOW)
    capsys.readouterr()

    # When verification checks them and the page ends
    metrics.checked("audit-2", record("f-1", SHARED, "c-1", "2026-05-01T11:00:00.000000Z"), "verified")
    metrics.checked("audit-2", record("f-2", EXPIRING, "c-2", "2026-05-01T11:59:30.000000Z"), "verified")
    metrics.checked("audit-2", record("f-3", SHARED, "c-3", "2026-05-01T10:00:00.000000Z"), "not-verified")
    metrics.flush()

    # Then the counts say three checked, one recurring
    out = documents(capsys)
    [counts] = [d for d in out if "FindingsChecked" in d]
    assert (counts["FindingsChecked"], counts["RecurringFindings"]) == ([3.0], [1.0])
    # ... and each check has its time to remediate, in seconds, verified findings only, with its dimension
    durations = {d["check"]: d["TimeToRemediate"] for d in out if "TimeToRemediate" in d}
    assert durations == {SHARED: [3600.0], EXPIRING: [30.0]}
    [shared] = [d for d in out if d.get("check") == SHARED]
    assert shared["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IoTAuditRemediator"  # type: ignore[index]
    assert earlier.asked[0] == ("deviceCertificateId=c-1", "audit-2")


def test_a_failed_lookup_is_counted_unknown_out_of_the_rate_and_a_finding_without_its_time_has_no_duration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = VerificationMetrics(Earlier(set(), failing=True), clock=lambda: NOW)
    capsys.readouterr()

    answer = metrics.checked("audit-1", record("f-1", SHARED, "c-1", None), "verified")
    metrics.flush()

    assert answer is None
    out = documents(capsys)
    assert [(d["FindingsChecked"], d["RecurringFindings"], d["RecurrenceUnknown"]) for d in out] == [
        ([0.0], [0.0], [1.0])
    ]


def test_an_empty_page_emits_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    VerificationMetrics(Earlier(set()), clock=lambda: NOW).flush()
    assert documents(capsys) == []
