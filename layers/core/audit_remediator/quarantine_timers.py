"""Quarantine timers: a thing a rule with `quarantineDays` put in the quarantine group is re-checked that many
days later. This module is the one definition of a timer's shape and of when verification starts one.

RemediationTable item, one per (due day, thing, group), in an item collection per day so the daily sweep
finds what is due without an index (the table's three GSIs are all taken):

- pk `QUARANTINE#<yyyy-mm-dd>` (the due day, UTC), sk `THING#<thing name>#GROUP#<group name>`;
- `kind` `quarantine-timer`, `thingName`, `thingGroup`, `days` (the rule's quarantineDays), `quarantinedAt`
  (ISO 8601 UTC) and `quarantinedEpoch` (when verification saw the thing quarantined; an audit must start
  after it to count), `dueDay`, `extensions` (how often the quarantine was extended so far);
- `findings`: a string set of JSON refs {auditTaskId, taskId, findingId, check, resourceIdentifier}, the
  findings the thing was quarantined for (a thing reached by two findings of one task carries both);
- `status`: `PENDING` until the sweep decides, then `RELEASED` (out of the group), `EXTENDED` (kept another
  `days`, a new PENDING timer at `next`) or `HELD` (kill switch pulled: moved to the next day), with
  `decidedAt`, `outcome` (JSON: why, with the audit that showed it) and `expiresAt` (TTL, the history's
  retention). A decided timer stays as the record of the release or extension.

A timer is started only for a thing the task moved: in the group after the task, not before it. A thing
already quarantined when the task started is someone else's (an operator's, or an earlier timer's).
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Protocol

from audit_remediator.resource_state import ActionCatalog, StateRecord

PENDING: Final = "PENDING"
RELEASED: Final = "RELEASED"
EXTENDED: Final = "EXTENDED"
HELD: Final = "HELD"


def timer_keys(due_day: date, thing: str, group: str) -> dict[str, str]:
    return {"pk": f"QUARANTINE#{due_day.isoformat()}", "sk": f"THING#{thing}#GROUP#{group}"}


def due_day(quarantined_at: datetime, days: int) -> date:
    return (quarantined_at.astimezone(UTC) + timedelta(days=days)).date()


@dataclass(frozen=True, slots=True)
class FindingRef:
    """A finding as a timer keeps it: what the sweep needs to ask a later audit about the same resource."""

    audit_task_id: str
    task_id: str
    finding_id: str
    check: str
    resource_identifier: Mapping[str, Any]

    def to_json(self) -> str:
        document = {
            "auditTaskId": self.audit_task_id,
            "taskId": self.task_id,
            "findingId": self.finding_id,
            "check": self.check,
            "resourceIdentifier": dict(self.resource_identifier),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "FindingRef":
        ref = json.loads(text)
        return cls(
            ref["auditTaskId"], ref["taskId"], ref["findingId"], ref["check"], dict(ref["resourceIdentifier"])
        )


@dataclass(frozen=True, slots=True)
class Timer:
    """A PENDING timer as the sweep reads it."""

    due_day: date
    thing: str
    group: str
    days: int
    quarantined_at: datetime
    extensions: int
    findings: tuple[FindingRef, ...]


@dataclass(frozen=True, slots=True)
class NewTimer:
    thing: str
    group: str
    days: int
    quarantined_at: datetime
    finding: str

    @property
    def due_day(self) -> date:
        return due_day(self.quarantined_at, self.days)


def newly_quarantined(
    record: StateRecord, observed: Mapping[str, Any], groups: list[str]
) -> list[tuple[str, str]]:
    """(thing, group) for every thing the verification saw in a group it was not in before the task."""
    before = record.before.get("things") or {}
    after = observed.get("things") or {}
    return [
        (thing, group)
        for thing, member_of in sorted(after.items())
        # A thing the pre-state did not record (attached to the certificate since) was not moved by the task.
        if thing in before
        for group in groups
        if group in member_of and group not in before[thing]
    ]


class TimerStore(Protocol):
    def start(self, timer: NewTimer) -> None:
        """Creates the timer, or adds the finding to the one this (due day, thing, group) already has."""
        ...


class QuarantineDays(Protocol):
    def __call__(self, check: str) -> int | None: ...


class QuarantineTimers:
    """Verification's hook: after a finding's record is verified, start a timer for each thing its task put
    in a quarantine group, when the finding's rule sets quarantineDays."""

    def __init__(
        self,
        store: TimerStore,
        days_for: QuarantineDays,
        catalog: ActionCatalog,
        clock: Callable[[], float],
    ) -> None:
        self._store, self._days_for, self._catalog, self._clock = store, days_for, catalog, clock

    def after_verification(
        self, audit_task_id: str, task_id: str, record: StateRecord, observed: Mapping[str, Any]
    ) -> list[NewTimer]:
        days = self._days_for(record.check)
        if days is None:
            return []
        groups = self._catalog.added_groups(record.action_names)
        now = datetime.fromtimestamp(self._clock(), UTC)
        ref = FindingRef(audit_task_id, task_id, record.finding_id, record.check, record.resource_identifier)
        timers = [
            NewTimer(thing, group, days, now, ref.to_json())
            for thing, group in newly_quarantined(record, observed, groups)
        ]
        for timer in timers:
            self._store.start(timer)
        return timers
