"""The reconciliation sweep: every audit Device Defender completed in the last N days against the
decision log; an audit whose notification was never handled is decided now, through the same path.

Only an audit the decision log knows nothing of (or only this rules version's claims, which a start
that failed after them leaves) is decided again, with `decide_audit`: the notification's own
planner, check claims, idempotency key and execution name, so an audit starts at most once whether
its notification, a late delivery or a sweep comes first. One that another invocation is handling
right now comes back `duplicate` and is counted as already decided. An audit held by the kill switch
waits for the operator with its notification in the on-failure queue and is only reported.

The sweep looks back at most as far as Device Defender lists audits (90 days) and as the decision log
keeps records (HistoryRetentionDays): past that, an audit decided long ago would look undecided.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit_remediator.adapters.history import AuditDecision
from audit_remediator.errors import ReconcileRequestError, RemediatorError, RulesError
from audit_remediator.fleet_share import QuarantineShare, measure_quarantine
from audit_remediator.intake import Services, decide_audit
from audit_remediator.kill_switch import KillSwitchPulledError
from audit_remediator.models.notifications import AuditCompletionNotification
from audit_remediator.observability import logger, metrics

# ListAuditTasks: "Audit information is retained for a limited time (90 days). Requesting a start time
# prior to what is retained results in an InvalidRequestException" (botocore's iot model).
AUDIT_RETENTION = timedelta(days=90)
# A sweep of the whole retention starts this much later, so the service's clock, a moment ahead of
# ours, does not find the start time past its retention.
RETENTION_MARGIN = timedelta(minutes=5)
MAX_DAYS = AUDIT_RETENTION.days


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    days: Annotated[int, Field(ge=1, le=MAX_DAYS)]

    @classmethod
    def from_event(cls, event: Any) -> "ReconcileRequest":
        try:
            return cls.model_validate(event)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'the request'}: {item['msg']}"
                for item in error.errors()[:3]
            )
            raise ReconcileRequestError(
                f'the reconciliation request must be {{"days": 1 to {MAX_DAYS}}}: {problems}'
            ) from error


class AuditTasks(Protocol):
    def completed(self, start: datetime, end: datetime) -> Iterable[str]: ...

    def notification(self, audit_task_id: str) -> AuditCompletionNotification: ...


class DecisionLog(Protocol):
    def audit_decision(self, audit_task_id: str, rules_version: str) -> AuditDecision: ...


@dataclass
class ReconcileServices:
    intake: Services
    audits: AuditTasks
    decisions: DecisionLog
    clock: Callable[[], float] = field(default=time.time)
    # The daily measure of the fleet's share in quarantine; None: not measured.
    quarantine: QuarantineShare | None = None


@dataclass
class ReconcileReport:
    days: int
    start: datetime
    end: datetime
    seen: int = 0
    already_decided: int = 0
    held: list[str] = field(default_factory=list)
    reconciled: list[dict[str, Any]] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    errors: list[dict[str, str | None]] = field(default_factory=list)
    quarantine: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "reconciliation",
            "days": self.days,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "seen": self.seen,
            "alreadyDecided": self.already_decided,
            "held": self.held,
            "reconciled": self.reconciled,
            "paused": self.paused,
            "errors": self.errors,
            **({"quarantine": self.quarantine} if self.quarantine is not None else {}),
        }


def _window(request: ReconcileRequest, services: ReconcileServices) -> tuple[datetime, datetime]:
    retention = services.intake.settings.history_retention_days
    if request.days > retention:
        raise ReconcileRequestError(
            f"days must be at most {retention}, the stack's HistoryRetentionDays: decisions older than that "
            "have expired, so an audit decided then would look undecided and be planned again"
        )
    end = datetime.fromtimestamp(services.clock(), UTC)
    start = max(end - timedelta(days=request.days), end - AUDIT_RETENTION + RETENTION_MARGIN)
    return start, end


def _decide(
    audit_task_id: str, rules_version: str, services: ReconcileServices, report: ReconcileReport
) -> None:
    state = services.decisions.audit_decision(audit_task_id, rules_version)
    if state == "decided":
        report.already_decided += 1
        return
    if state == "held":
        report.held.append(audit_task_id)
        return
    outcome = decide_audit(services.audits.notification(audit_task_id), services.intake)
    if outcome.decision == "duplicate":
        report.already_decided += 1
        return
    report.reconciled.append(
        {
            "auditTaskId": audit_task_id,
            "decision": outcome.decision,
            "reason": outcome.reason,
            "executionName": outcome.execution.name if outcome.execution else None,
        }
    )
    logger.warning(
        "audit reconciled: its notification was never handled",
        extra={"auditTaskId": audit_task_id, "decision": outcome.decision},
    )


def reconcile(request: ReconcileRequest, services: ReconcileServices) -> ReconcileReport:
    """Decide every completed audit of the last `request.days` days that the decision log lacks.

    An error with one audit is reported and leaves it for the next sweep (nothing of it was recorded);
    a rules table that cannot be used stops the sweep (RulesError), as it stops the function.
    """
    start, end = _window(request, services)
    report = ReconcileReport(request.days, start, end)
    try:
        rules_version = services.intake.rules().version
    except RulesError:
        logger.exception("rules table unusable: nothing is reconciled")
        metrics.add_metric(name="RulesInvalid", unit=MetricUnit.Count, value=1)
        raise
    try:
        audits = list(services.audits.completed(start, end))
    except RemediatorError as error:
        logger.exception("listing the completed audits failed: nothing reconciled")
        report.errors.append({"auditTaskId": None, "error": str(error)})
        audits = []
    for audit_task_id in audits:
        report.seen += 1
        try:
            _decide(audit_task_id, rules_version, services, report)
        except KillSwitchPulledError:
            logger.warning("kill switch: audit left for the next sweep", extra={"auditTaskId": audit_task_id})
            report.paused.append(audit_task_id)
        except RemediatorError as error:
            logger.exception(
                "audit not reconciled: left for the next sweep", extra={"auditTaskId": audit_task_id}
            )
            report.errors.append({"auditTaskId": audit_task_id, "error": str(error)})
    metrics.add_metric(name="AuditsReconciled", unit=MetricUnit.Count, value=len(report.reconciled))
    metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=len(report.errors))
    if services.quarantine is not None:
        report.quarantine = measure_quarantine(services.quarantine)
    logger.info("reconciliation", extra=report.as_json())
    return report
