"""The quarantine expiry sweep's decisions, from what Device Defender says since the quarantine began, and the
verification hook that starts a timer only for a thing its task moved into the quarantine group."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from audit_remediator.errors import QuarantineExpiryRequestError, QuarantineTimerError
from audit_remediator.kill_switch import SwitchReading, reading_of
from audit_remediator.quarantine_expiry import MAX_TIMERS, AuditRun, ExpiryRequest, ExpiryServices, sweep
from audit_remediator.quarantine_timers import FindingRef, NewTimer, QuarantineTimers, Timer
from audit_remediator.resource_state import ActionCatalog, StateRecord

GROUP = "stack-quarantine"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
NOW = datetime(2027, 5, 1, 6, tzinfo=UTC)
TODAY = NOW.date()
QUARANTINED = NOW - timedelta(days=30)
CERT = {"deviceCertificateId": "c" * 64}


def timer(thing: str = "sensor-1", group: str = GROUP, *, due: date = TODAY) -> Timer:
    ref = FindingRef("a" * 32, "task-1", "f-1", SHARED, CERT)
    return Timer(due, thing, group, 30, QUARANTINED, 0, (ref,))


@dataclass
class Book:
    """Timers in memory, with the conditional writes of the table: a decided timer is decided once."""

    pending: dict[date, list[Timer]] = field(default_factory=dict)
    decided: dict[tuple[date, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    follow_ups: list[tuple[str, date, int]] = field(default_factory=list)

    def due(self, day: date) -> Iterator[Timer]:
        yield from [t for t in self.pending.get(day, []) if (t.due_day, t.thing) not in self.decided]

    def release(self, timer: Timer, outcome: dict[str, Any], at: datetime) -> bool:
        return self._decide(timer, "RELEASED", outcome)

    def move(
        self,
        timer: Timer,
        status: str,
        next_day: date,
        extensions: int,
        outcome: dict[str, Any],
        at: datetime,
    ) -> bool:
        moved = self._decide(timer, status, outcome)
        if moved:
            self.follow_ups.append((timer.thing, next_day, extensions))
        return moved

    def _decide(self, timer: Timer, status: str, outcome: dict[str, Any]) -> bool:
        key = (timer.due_day, timer.thing)
        if key in self.decided:
            return False
        self.decided[key] = (status, outcome)
        return True


@dataclass
class Audits:
    """Completed audits: id -> (start, {check: run status}, {check: resource keys with a finding})."""

    runs: dict[str, tuple[datetime, dict[str, str], dict[str, list[str]]]] = field(default_factory=dict)

    def completed_audits(self, start: datetime, end: datetime) -> list[AuditRun]:
        return [AuditRun(task, run[0]) for task, run in self.runs.items() if start <= run[0] <= end]

    def check_status(self, audit_task_id: str, check: str) -> str | None:
        return self.runs[audit_task_id][1].get(check)

    def finding_of(
        self, audit_task_id: str, check: str, resource_identifier: Mapping[str, Any]
    ) -> str | None:
        found = str(resource_identifier) in self.runs[audit_task_id][2].get(check, [])
        return f"finding-in-{audit_task_id}" if found else None


@dataclass
class Groups:
    removed: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None

    def remove(self, group: str, thing: str) -> None:
        if self.error:
            raise self.error
        self.removed.append((group, thing))


@dataclass
class Topic:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, subject: str, document: dict[str, Any]) -> None:
        self.published.append((subject, document))


@dataclass
class Switch:
    reading: SwitchReading = field(default_factory=lambda: reading_of("released"))

    def read(self) -> SwitchReading:
        return self.reading


def services(
    book: Book, audits: Audits, groups: Groups | None = None, switch: str = "released"
) -> ExpiryServices:
    return ExpiryServices(
        GROUP, book, audits, groups or Groups(), Topic(), Switch(reading_of(switch)), clock=NOW.timestamp
    )


def audit(days_after_quarantine: float, status: str = "COMPLETED_NON_COMPLIANT", *found: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    start = QUARANTINED + timedelta(days=days_after_quarantine)
    return start, {SHARED: status}, {SHARED: [str(resource) for resource in found]}


REQUEST = ExpiryRequest(missedDays=2)


def test_a_finding_no_later_audit_reports_is_released_from_the_quarantine_group_only() -> None:
    book, groups = Book({NOW.date(): [timer()]}), Groups()
    audits = Audits({"older": audit(-1, "COMPLETED_NON_COMPLIANT", CERT), "later": audit(2)})

    report = sweep(REQUEST, services(book, audits, groups))

    assert groups.removed == [(GROUP, "sensor-1")]
    assert report.counts["released"] == 1
    assert report.released[0]["audits"] == ["later"]
    assert book.decided[(NOW.date(), "sensor-1")][0] == "RELEASED"


def test_a_compliant_run_of_the_check_means_the_finding_is_gone() -> None:
    book, groups = Book({NOW.date(): [timer()]}), Groups()

    sweep(REQUEST, services(book, Audits({"later": audit(3, "COMPLETED_COMPLIANT")}), groups))

    assert groups.removed == [(GROUP, "sensor-1")]


def test_the_newest_audit_that_ran_the_check_decides() -> None:
    # Given an audit that reported the finding, and a newer one that did not run the check at all
    book, groups = Book({NOW.date(): [timer()]}), Groups()
    audits = Audits({"reported": audit(5, "COMPLETED_NON_COMPLIANT", CERT), "other-checks": (NOW, {}, {})})

    report = sweep(REQUEST, services(book, audits, groups))

    assert groups.removed == []
    [extended] = report.extended
    assert extended["escalated"] is True
    assert "audit reported still reports" in extended["reason"]


def test_a_finding_still_reported_extends_the_quarantine_by_its_days_and_escalates() -> None:
    book, groups = Book({NOW.date(): [timer()]}), Groups()

    report = sweep(
        REQUEST, services(book, Audits({"later": audit(2, "COMPLETED_NON_COMPLIANT", CERT)}), groups)
    )

    assert groups.removed == []
    assert book.follow_ups == [("sensor-1", NOW.date() + timedelta(days=30), 1)]
    assert report.counts == {"released": 0, "extended": 1, "escalated": 1, "held": 0, "errors": 0}


@pytest.mark.parametrize(
    "audits",
    [
        pytest.param({}, id="no-audit"),
        pytest.param({"before": audit(-2, "COMPLETED_COMPLIANT")}, id="only-before-the-quarantine"),
        pytest.param({"failed": audit(4, "FAILED")}, id="check-failed"),
    ],
)
def test_with_no_audit_of_the_check_since_the_quarantine_is_extended_saying_why(
    audits: dict[str, Any],
) -> None:
    book, groups = Book({NOW.date(): [timer()]}), Groups()

    report = sweep(REQUEST, services(book, Audits(audits), groups))

    assert groups.removed == []
    [extended] = report.extended
    assert extended["escalated"] is False
    assert extended["reason"] == f"no completed audit ran {SHARED} since the thing was quarantined"


def test_a_thing_held_for_two_findings_stays_until_both_are_gone_and_the_reason_names_the_open_one() -> None:
    # Given a thing quarantined for a shared certificate and a key-quality finding; only the first was re-audited
    quality = FindingRef("a" * 32, "task-1", "f-2", "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK", CERT)
    both = Timer(TODAY, "sensor-1", GROUP, 30, QUARANTINED, 0, (timer().findings[0], quality))
    book, groups = Book({TODAY: [both]}), Groups()

    report = sweep(REQUEST, services(book, Audits({"later": audit(2, "COMPLETED_COMPLIANT")}), groups))

    assert groups.removed == []
    [extended] = report.extended
    assert extended["reason"] == (
        "no completed audit ran DEVICE_CERTIFICATE_KEY_QUALITY_CHECK since the thing was quarantined"
    )


def test_nothing_is_released_or_rechecked_while_the_kill_switch_is_pulled() -> None:
    book, groups = Book({NOW.date(): [timer()]}), Groups()

    report = sweep(REQUEST, services(book, Audits({"later": audit(2)}), groups, switch="pulled"))

    assert groups.removed == []
    assert report.held == ["sensor-1"]
    assert book.follow_ups == [("sensor-1", NOW.date() + timedelta(days=1), 0)]
    assert report.kill_switch == "kill switch pulled"


def test_a_timer_of_another_group_is_not_released_and_is_reported() -> None:
    book, groups = Book({NOW.date(): [timer(group="production-fleet")]}), Groups()

    report = sweep(REQUEST, services(book, Audits({"later": audit(2)}), groups))

    assert groups.removed == []
    assert "releases only from its own group" in report.errors[0]["error"]
    assert (NOW.date(), "sensor-1") not in book.decided


def test_a_failed_release_leaves_the_timer_due_and_counts_an_error() -> None:
    book = Book({NOW.date(): [timer()]})
    groups = Groups(error=QuarantineTimerError("IoT RemoveThingFromThingGroup failed: throttled"))

    report = sweep(REQUEST, services(book, Audits({"later": audit(2)}), groups))

    assert report.counts["errors"] == 1
    assert book.decided == {}


def test_missed_days_are_swept_oldest_first_and_a_second_sweep_decides_nothing() -> None:
    missed = NOW.date() - timedelta(days=2)
    book = Book({missed: [timer("late", due=missed)], NOW.date(): [timer("today")]})
    groups = Groups()
    audits = Audits({"later": audit(2)})

    first = sweep(REQUEST, services(book, audits, groups))
    second = sweep(REQUEST, services(book, audits, groups))

    assert [thing for _, thing in groups.removed] == ["late", "today"]
    assert (first.due, second.due) == (2, 0)


def test_a_sweep_decides_at_most_max_timers_and_says_more_are_due() -> None:
    book = Book({NOW.date(): [timer(f"sensor-{i}") for i in range(MAX_TIMERS + 3)]})

    report = sweep(REQUEST, services(book, Audits({"later": audit(2)})))

    assert (report.due, report.more) == (MAX_TIMERS, True)
    assert len(report.released) == 50
    assert report.counts["released"] == MAX_TIMERS


@pytest.mark.parametrize("event", [{}, {"missedDays": 31}, {"missedDays": "7"}, {"missedDays": 7, "days": 1}])
def test_a_request_the_sweep_cannot_honour_is_refused_in_plain_words(event: dict[str, Any]) -> None:
    with pytest.raises(QuarantineExpiryRequestError, match=r'must be \{"missedDays": 0 to 30\}'):
        ExpiryRequest.from_event(event)


# --- the verification hook -------------------------------------------------------------------------


class ActionParams:
    """IoT's mitigation actions as ActionCatalog reads them: Quarantine adds to GROUP, the rest deactivate."""

    def action_params(self, name: str) -> Mapping[str, Any]:
        if name == "Quarantine":
            return {"addThingsToThingGroupParams": {"thingGroupNames": [GROUP]}}
        return {"updateDeviceCertificateParams": {"action": "DEACTIVATE"}}


@dataclass
class Started:
    timers: list[NewTimer] = field(default_factory=list)

    def start(self, timer: NewTimer) -> None:
        self.timers.append(timer)


def record(before: dict[str, list[str]]) -> StateRecord:
    return StateRecord("f-1", SHARED, CERT, ("Quarantine", "Deactivate"), {"things": before})


@pytest.mark.parametrize(
    ("before", "after", "timed"),
    [
        pytest.param({"a": ["fleet"]}, {"a": ["fleet", GROUP]}, ["a"], id="moved-by-the-task"),
        pytest.param({"a": [GROUP]}, {"a": [GROUP]}, [], id="already-quarantined"),
        pytest.param({}, {"a": [GROUP]}, [], id="not-recorded-before"),
        pytest.param({"a": []}, {"a": []}, [], id="not-in-the-group"),
        pytest.param({"a": [], "b": [GROUP]}, {"a": [GROUP], "b": [GROUP]}, ["a"], id="only-the-moved-one"),
    ],
)
def test_verification_times_only_the_things_its_task_moved_into_the_group(
    before: dict[str, list[str]], after: dict[str, list[str]], timed: list[str]
) -> None:
    started = Started()
    hook = QuarantineTimers(started, lambda check: 30, ActionCatalog(ActionParams()), NOW.timestamp)  # type: ignore[arg-type]

    hook.after_verification("a" * 32, "task-1", record(before), {"things": after})

    assert [t.thing for t in started.timers] == timed
    assert all(t.due_day == date(2027, 5, 31) and t.group == GROUP for t in started.timers)


def test_verification_starts_no_timer_for_a_rule_without_quarantine_days() -> None:
    started = Started()
    hook = QuarantineTimers(started, lambda check: None, ActionCatalog(ActionParams()), NOW.timestamp)  # type: ignore[arg-type]

    hook.after_verification("a" * 32, "task-1", record({"a": []}), {"things": {"a": [GROUP]}})

    assert started.timers == []
