"""The quarantine expiry sweep (daily): every quarantine timer due today, or on one of the last `missedDays`
days, is decided from Device Defender's own data (timer shape: `quarantine_timers`).

For each finding a timer holds, the newest completed audit that started after the thing was quarantined and
ran the finding's check decides: the check compliant, or non-compliant without a finding for the same
resource (ListAuditFindings by task, check and resource identifier) -> the finding is gone; a finding for the
resource -> still there. Every finding gone: the thing is removed from the quarantine group (and from no
other group) and the timer is recorded RELEASED. A finding still there: the quarantine is extended by the
rule's days and escalated. No audit ran the check since: extended, saying so. The sweep starts no on-demand
audit: its completion notification would go through the whole remediation path, and Device Defender allows
only 10 on-demand audits running at once and 10 StartOnDemandAuditTask calls a second (AWS IoT Device
Defender endpoints and quotas).

While the kill switch is pulled (or unreadable) nothing is released: a release loosens containment. Due
timers are moved to the next day (HELD) and the report says so. A sweep decides at most MAX_TIMERS timers;
the rest stay due for the next sweep, which looks back `missedDays` days.
"""

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit_remediator.errors import QuarantineExpiryRequestError, QuarantineTimerError, RemediatorError
from audit_remediator.kill_switch import KillSwitch
from audit_remediator.observability import logger, metrics
from audit_remediator.quarantine_timers import EXTENDED, HELD, FindingRef, Timer
from audit_remediator.reconcile import AUDIT_RETENTION

MAX_MISSED_DAYS: Final = 30
# The audits listed start a day inside Device Defender's retention: ListAuditTasks refuses a start time past
# it (InvalidRequestException), and the service's clock may be ahead of ours. Only the newest audit that ran
# a check decides, so the day left out never matters.
RETENTION_MARGIN: Final = timedelta(days=1)
MAX_TIMERS: Final = 500
# Entries listed per kind in the report (an SNS message holds 256 KB); the counts are always whole.
MAX_LISTED: Final = 50
# DescribeAuditTask's checkRunStatus values that mean the check ran to the end (botocore: AuditCheckRunStatus).
COMPLIANT: Final = "COMPLETED_COMPLIANT"
NON_COMPLIANT: Final = "COMPLETED_NON_COMPLIANT"


class ExpiryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    missed_days: Annotated[int, Field(ge=0, le=MAX_MISSED_DAYS)] = Field(alias="missedDays")

    @classmethod
    def from_event(cls, event: Any) -> "ExpiryRequest":
        try:
            return cls.model_validate(event)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'the request'}: {item['msg']}"
                for item in error.errors()[:3]
            )
            raise QuarantineExpiryRequestError(
                f'the quarantine expiry request must be {{"missedDays": 0 to {MAX_MISSED_DAYS}}}: {problems}'
            ) from error


@dataclass(frozen=True, slots=True)
class AuditRun:
    task_id: str
    started_at: datetime


class TimerBook(Protocol):
    def due(self, day: date) -> Iterator[Timer]:
        """The day's PENDING timers, page by page."""
        ...

    def release(self, timer: Timer, outcome: dict[str, Any], at: datetime) -> bool:
        """Records the release; False when the timer was no longer PENDING (another sweep decided it)."""
        ...

    def move(
        self,
        timer: Timer,
        status: str,
        next_day: date,
        extensions: int,
        outcome: dict[str, Any],
        at: datetime,
    ) -> bool:
        """Records the decision and starts the follow-up timer at `next_day`, in one transaction."""
        ...


class AuditEvidence(Protocol):
    def completed_audits(self, start: datetime, end: datetime) -> list[AuditRun]: ...

    def check_status(self, audit_task_id: str, check: str) -> str | None: ...

    def finding_of(
        self, audit_task_id: str, check: str, resource_identifier: Mapping[str, Any]
    ) -> str | None:
        """The id of a finding the audit has for this check and resource, or None."""
        ...


class ThingGroups(Protocol):
    def remove(self, group: str, thing: str) -> None: ...


class ReportTopic(Protocol):
    def publish(self, subject: str, document: dict[str, Any]) -> None: ...


@dataclass
class ExpiryServices:
    quarantine_group: str
    timers: TimerBook
    evidence: AuditEvidence
    groups: ThingGroups
    reports: ReportTopic
    kill_switch: KillSwitch
    clock: Callable[[], float] = field(default=time.time)


Verdict = Literal["gone", "present", "unchecked"]


@dataclass(frozen=True, slots=True)
class Recheck:
    verdict: Verdict
    finding_id: str
    check: str
    audit_task_id: str | None = None
    current_finding_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "findingId": self.finding_id,
            "check": self.check,
            "verdict": self.verdict,
            "auditTaskId": self.audit_task_id,
            "currentFindingId": self.current_finding_id,
        }


@dataclass
class ExpiryReport:
    day: date
    missed_days: int
    kill_switch: str = ""
    due: int = 0
    released: list[dict[str, Any]] = field(default_factory=list)
    extended: list[dict[str, Any]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("released", "extended", "escalated", "held", "errors"), 0)
    )
    more: bool = False

    def add(self, kind: Literal["released", "extended", "held", "errors"], entry: Any) -> None:
        self.counts[kind] += 1
        listed: list[Any] = getattr(self, kind)
        if len(listed) < MAX_LISTED:
            listed.append(entry)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "quarantine-expiry",
            "day": self.day.isoformat(),
            "missedDays": self.missed_days,
            "killSwitch": self.kill_switch,
            "due": self.due,
            "counts": dict(self.counts),
            "released": self.released,
            "extended": self.extended,
            "held": self.held,
            "errors": self.errors,
            "more": self.more,
        }


class _Evidence:
    """The audits since the retention start, read once per sweep and only if a timer is due."""

    def __init__(self, evidence: AuditEvidence, now: datetime) -> None:
        self._evidence, self._now = evidence, now
        self._audits: list[AuditRun] | None = None
        self._status: dict[tuple[str, str], str | None] = {}

    def audits(self) -> list[AuditRun]:
        if self._audits is None:
            start = self._now - AUDIT_RETENTION + RETENTION_MARGIN
            runs = self._evidence.completed_audits(start, self._now)
            self._audits = sorted(runs, key=lambda run: run.started_at, reverse=True)
        return self._audits

    def recheck(self, ref: FindingRef, since: datetime) -> Recheck:
        for run in self.audits():
            if run.started_at <= since:
                break
            key = (run.task_id, ref.check)
            if key not in self._status:
                self._status[key] = self._evidence.check_status(run.task_id, ref.check)
            status = self._status[key]
            if status == COMPLIANT:
                return Recheck("gone", ref.finding_id, ref.check, run.task_id)
            if status == NON_COMPLIANT:
                current = self._evidence.finding_of(run.task_id, ref.check, ref.resource_identifier)
                verdict: Verdict = "present" if current else "gone"
                return Recheck(verdict, ref.finding_id, ref.check, run.task_id, current)
        return Recheck("unchecked", ref.finding_id, ref.check)


def _decide(
    timer: Timer, services: ExpiryServices, evidence: _Evidence, now: datetime, report: ExpiryReport
) -> None:
    if timer.group != services.quarantine_group:
        raise QuarantineTimerError(
            f"the timer names thing group {timer.group}, not the stack's quarantine group "
            f"{services.quarantine_group}: the sweep releases only from its own group"
        )
    rechecks = [evidence.recheck(ref, timer.quarantined_at) for ref in timer.findings]
    outcome: dict[str, Any] = {"rechecks": [r.as_json() for r in rechecks]}
    if rechecks and all(r.verdict == "gone" for r in rechecks):
        services.groups.remove(timer.group, timer.thing)
        outcome["reason"] = "no later audit reports the findings: released from the quarantine group"
        if services.timers.release(timer, outcome, now):
            report.add(
                "released",
                {
                    "thing": timer.thing,
                    "group": timer.group,
                    "quarantinedAt": timer.quarantined_at.isoformat(),
                    "findings": [r.finding_id for r in rechecks],
                    "audits": sorted({r.audit_task_id for r in rechecks if r.audit_task_id}),
                },
            )
        return
    present = [r for r in rechecks if r.verdict == "present"]
    if present:
        outcome["reason"] = "; ".join(
            f"audit {r.audit_task_id} still reports {r.check} for finding {r.finding_id} "
            f"(finding {r.current_finding_id})"
            for r in present[:3]
        )
    else:
        outcome["reason"] = (
            "; ".join(
                f"no completed audit ran {r.check} since the thing was quarantined"
                for r in [r for r in rechecks if r.verdict == "unchecked"][:3]
            )
            or "the timer holds no finding to re-check"
        )
    next_day = now.date() + timedelta(days=timer.days)
    outcome["escalated"] = bool(present)
    if services.timers.move(timer, EXTENDED, next_day, timer.extensions + 1, outcome, now):
        report.add(
            "extended",
            {
                "thing": timer.thing,
                "group": timer.group,
                "nextDueDay": next_day.isoformat(),
                "extensions": timer.extensions + 1,
                "escalated": bool(present),
                "reason": outcome["reason"],
            },
        )
        report.counts["escalated"] += bool(present)


def _due(services: ExpiryServices, days: list[date]) -> Iterator[Timer]:
    for day in days:
        yield from services.timers.due(day)


def sweep(request: ExpiryRequest, services: ExpiryServices) -> ExpiryReport:
    """Decide every quarantine timer due from `missed_days` days ago to today (UTC), oldest first."""
    now = datetime.fromtimestamp(services.clock(), UTC)
    today = now.date()
    report = ExpiryReport(today, request.missed_days)
    switch = services.kill_switch.read()
    report.kill_switch = switch.reason
    evidence = _Evidence(services.evidence, now)
    days = [today - timedelta(days=back) for back in range(request.missed_days, -1, -1)]
    try:
        for timer in _due(services, days):
            if report.due >= MAX_TIMERS:
                report.more = True
                break
            report.due += 1
            try:
                if switch.pulled:
                    outcome = {"reason": f"nothing is released while the {switch.reason}"}
                    if services.timers.move(
                        timer, HELD, today + timedelta(days=1), timer.extensions, outcome, now
                    ):
                        report.add("held", timer.thing)
                    continue
                _decide(timer, services, evidence, now, report)
            except RemediatorError as error:
                logger.exception(
                    "quarantine timer not decided: left for the next sweep", extra={"thing": timer.thing}
                )
                report.add("errors", {"thing": timer.thing, "error": str(error)[:500]})
    except RemediatorError as error:
        logger.exception("reading the due quarantine timers failed")
        report.add("errors", {"thing": "", "error": str(error)[:500]})
    metrics.add_metric(name="QuarantinesReleased", unit=MetricUnit.Count, value=report.counts["released"])
    metrics.add_metric(name="QuarantinesExtended", unit=MetricUnit.Count, value=report.counts["extended"])
    metrics.add_metric(name="QuarantineReleaseErrors", unit=MetricUnit.Count, value=report.counts["errors"])
    document = report.as_json()
    logger.info("quarantine expiry", extra=document)
    if report.due or report.counts["errors"]:
        subject = (
            f"Quarantine expiry {today.isoformat()}: {report.counts['released']} released, "
            f"{report.counts['extended']} extended ({report.counts['escalated']} escalated), {report.counts['held']} held"
        )
        services.reports.publish(subject[:100], document)
    return report
