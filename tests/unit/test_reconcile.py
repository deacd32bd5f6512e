"""The reconciliation sweep's logic: which audits the decision log lacks, and that each one is decided
through the notification's own path (the real RemediationTable adapter and Powertools idempotency on
moto's DynamoDB), once."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from audit_remediator.adapters.audit_tasks import notification_of
from audit_remediator.adapters.history import audit_decision
from audit_remediator.errors import AwsCallError, ReconcileError, ReconcileRequestError
from audit_remediator.intake import handle_event
from audit_remediator.kill_switch import KillSwitchPulledError, reading_of
from audit_remediator.models.notifications import AuditCompletionNotification
from audit_remediator.models.plan import StartedExecution
from audit_remediator.reconcile import ReconcileRequest, ReconcileServices, reconcile
from tests.conftest import ACCOUNT_ID, load_event, sns_message, with_message
from tests.unit.fakes import FakeExecutions, Fakes, RemediationTable, make_fakes

NOW = 1_763_608_500.0
RULES = "v1"


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], "undecided"),
        ([("DECISION#v1", "")], "decided"),
        ([("DECISION#v0", "")], "decided"),
        ([("SUMMARY#v1", "")], "decided"),
        ([("DECISION#v1#PAUSED", "")], "held"),
        ([("DECISION#v1#PAUSED", ""), ("SUMMARY#v1", "")], "decided"),
        ([("OWNER#v0#LOGGING_DISABLED_CHECK", "audit-x-v0")], "decided"),
        # this rules version's claim alone: the start after it may have failed, so the same path runs again
        ([("OWNER#v1#LOGGING_DISABLED_CHECK", "audit-x-v1")], "undecided"),
        # what the finding windows record says nothing of the audit's own notification
        ([("OWNER#v0#LOGGING_DISABLED_CHECK", "finding-windows")], "undecided"),
        ([("DECISION#v1#FINDING#f-1", "")], "undecided"),
        ([("SUMMARY#v1#finding-window-x", ""), ("TASK#t-1", "")], "undecided"),
    ],
)
def test_the_decision_log_answers_for_the_audits_own_notification(
    records: list[tuple[str, str]], expected: str
) -> None:
    assert audit_decision(records, RULES) == expected


def _notification(task_id: str) -> dict[str, Any]:
    message = sns_message(load_event("scheduled-non-compliant"))
    message["taskId"] = task_id
    return message


@dataclass
class FakeAudits:
    """Device Defender's audit list; an id in `unreadable` fails DescribeAuditTask."""

    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    listing_fails: bool = False
    asked: list[tuple[datetime, datetime]] = field(default_factory=list)

    def completed(self, start: datetime, end: datetime) -> Iterable[str]:
        self.asked.append((start, end))
        if self.listing_fails:
            raise AwsCallError("IoT ListAuditTasks failed: ThrottlingException")
        return list(self.notifications)

    def notification(self, audit_task_id: str) -> AuditCompletionNotification:
        if audit_task_id in self.unreadable:
            raise ReconcileError(f"IoT DescribeAuditTask {audit_task_id} failed: InternalFailureException")
        return AuditCompletionNotification.model_validate(self.notifications[audit_task_id])


@dataclass
class FailingExecutions(FakeExecutions):
    """Step Functions refusing StartExecution while `fail_with` is set."""

    fail_with: AwsCallError | None = None

    def start(self, name: str, input_json: str) -> StartedExecution:
        if self.fail_with is not None:
            raise self.fail_with
        return super().start(name, input_json)


@dataclass
class Sweep:
    fakes: Fakes
    table: RemediationTable
    audits: FakeAudits

    @property
    def services(self) -> ReconcileServices:
        return ReconcileServices(self.fakes.services, self.audits, self.table.history, clock=lambda: NOW)

    def run(self, days: int = 7) -> dict[str, Any]:
        return reconcile(ReconcileRequest(days=days), self.services).as_json()

    def deliver(self, task_id: str) -> dict[str, Any]:
        event = with_message(load_event("scheduled-non-compliant"), self.audits.notifications[task_id])
        return handle_event(event, self.fakes.services).model_dump(by_alias=True)


@pytest.fixture
def sweep() -> Iterator[Sweep]:
    with mock_aws():
        table = RemediationTable()
        fakes = make_fakes(now=NOW, history=table.history)
        fakes.executions = fakes.services.executions = FailingExecutions()
        yield Sweep(fakes, table, FakeAudits({"a1": _notification("a1")}))


def test_an_audit_never_notified_is_decided_once(sweep: Sweep) -> None:
    # Given a completed audit whose notification never reached the function
    # When the sweep runs twice
    first = sweep.run()
    second = sweep.run()

    # Then the first decides it through the notification's path and starts its one execution ...
    [reconciled] = first["reconciled"]
    assert (reconciled["auditTaskId"], reconciled["decision"]) == ("a1", "remediate")
    assert sweep.fakes.executions.names == [reconciled["executionName"]]
    assert (first["seen"], first["alreadyDecided"], first["errors"]) == (1, 0, [])
    # ... and the second finds it decided and starts nothing
    assert (second["seen"], second["alreadyDecided"], second["reconciled"]) == (1, 1, [])
    assert len(sweep.fakes.executions.names) == 1


def test_an_audit_its_notification_decided_is_left_alone(sweep: Sweep) -> None:
    # Given an audit whose notification started its execution
    assert sweep.deliver("a1")["decision"] == "remediate"

    # When the sweep runs
    report = sweep.run()

    # Then it counts the audit as decided and starts nothing more
    assert (report["alreadyDecided"], report["reconciled"]) == (1, [])
    assert len(sweep.fakes.executions.names) == 1


def test_a_late_notification_after_the_sweep_is_a_duplicate(sweep: Sweep) -> None:
    # Given an audit the sweep decided
    [reconciled] = sweep.run()["reconciled"]

    # When its notification arrives after all
    late = sweep.deliver("a1")

    # Then it starts nothing: the same idempotency key and execution name
    assert late["decision"] == "duplicate"
    assert sweep.fakes.executions.names == [reconciled["executionName"]]


def test_the_sweep_and_the_notification_share_one_idempotency_record_across_functions(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the notification decided in AuditEventsFunction (Powertools would prefix its key with that name)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-audit-events")
    assert sweep.deliver("a1")["decision"] == "remediate"
    # ... and its checks' claims all the decision log holds (its run has not recorded anything yet)
    assert {item["sk"].split("#")[0] for item in sweep.table.items()} == {"OWNER"}

    # When the sweep, in ReconcileFunction, takes the same path
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-reconcile")
    report = sweep.run()

    # Then it finds the notification's record: one start, the audit counted as decided
    assert (report["alreadyDecided"], report["reconciled"]) == (1, [])
    assert len(sweep.fakes.executions.names) == 1


def test_a_start_that_failed_after_its_claim_is_started_by_the_sweep(sweep: Sweep) -> None:
    # Given an audit whose delivery claimed its checks and then failed to start (the idempotency record
    # of the failure is gone, as Powertools deletes it when the call raises)
    sweep.fakes.executions.fail_with = AwsCallError("StartExecution failed: ServiceUnavailable")
    with pytest.raises(AwsCallError):
        sweep.deliver("a1")
    sweep.fakes.executions.fail_with = None
    assert sweep.fakes.executions.names == []

    # When the sweep runs
    report = sweep.run()

    # Then it starts the execution the delivery could not
    assert [r["auditTaskId"] for r in report["reconciled"]] == ["a1"]
    assert len(sweep.fakes.executions.names) == 1


def test_an_audit_held_by_the_kill_switch_waits_for_the_operator(sweep: Sweep) -> None:
    # Given an audit whose notification the kill switch stopped (it waits in the on-failure queue)
    sweep.fakes.kill_switch.reading = reading_of("pulled")
    with pytest.raises(KillSwitchPulledError):
        sweep.deliver("a1")
    sweep.fakes.kill_switch.reading = reading_of("released")

    # When the sweep runs
    report = sweep.run()

    # Then it reports the audit as held and starts nothing
    assert (report["held"], report["reconciled"]) == (["a1"], [])
    assert sweep.fakes.executions.names == []


def test_while_the_switch_is_pulled_the_sweep_starts_nothing_and_keeps_the_audit_for_later(
    sweep: Sweep,
) -> None:
    # Given the kill switch pulled
    sweep.fakes.kill_switch.reading = reading_of("pulled")

    # When the sweep runs, then again after the release
    paused = sweep.run()
    sweep.fakes.kill_switch.reading = reading_of("released")
    released = sweep.run()

    # Then the first starts nothing and records no pause (no queue holds the audit), the second starts it
    assert (paused["paused"], paused["reconciled"]) == (["a1"], [])
    assert not any("PAUSED" in item["sk"] for item in sweep.table.items())
    assert [r["auditTaskId"] for r in released["reconciled"]] == ["a1"]
    assert len(sweep.fakes.executions.names) == 1


def test_an_audit_that_cannot_be_read_is_reported_and_left_for_the_next_sweep(sweep: Sweep) -> None:
    # Given two undecided audits, one of which DescribeAuditTask fails for
    sweep.audits.notifications["a2"] = _notification("a2")
    sweep.audits.unreadable.add("a2")

    # When the sweep runs, then again once the audit can be read
    first = sweep.run()
    sweep.audits.unreadable.clear()
    second = sweep.run()

    # Then the first decides the readable one and names the other with its error; nothing is lost
    assert [r["auditTaskId"] for r in first["reconciled"]] == ["a1"]
    assert first["errors"] == [
        {"auditTaskId": "a2", "error": "IoT DescribeAuditTask a2 failed: InternalFailureException"}
    ]
    assert [r["auditTaskId"] for r in second["reconciled"]] == ["a2"]
    assert (second["alreadyDecided"], second["errors"]) == (1, [])


def test_a_failed_listing_is_an_error_and_decides_nothing(sweep: Sweep) -> None:
    sweep.audits.listing_fails = True

    report = sweep.run()

    assert report["errors"] == [
        {"auditTaskId": None, "error": "IoT ListAuditTasks failed: ThrottlingException"}
    ]
    assert (report["seen"], report["reconciled"]) == (0, [])
    assert sweep.fakes.executions.names == []


def test_the_sweep_covers_the_days_asked_and_never_past_device_defenders_retention(sweep: Sweep) -> None:
    end = datetime.fromtimestamp(NOW, UTC)

    sweep.run(days=3)
    long_kept = make_fakes(now=NOW, history=sweep.table.history, HISTORY_RETENTION_DAYS="400")
    reconcile(
        ReconcileRequest(days=90),
        ReconcileServices(long_kept.services, sweep.audits, sweep.table.history, clock=lambda: NOW),
    )

    assert sweep.audits.asked[0] == (end - timedelta(days=3), end)
    # ListAuditTasks refuses a start time before its 90 days: a whole-retention sweep starts 5 minutes later
    assert sweep.audits.asked[1] == (end - timedelta(days=90) + timedelta(minutes=5), end)


def test_the_sweep_refuses_to_look_back_further_than_decisions_are_kept(sweep: Sweep) -> None:
    # Given decisions kept for 30 days
    short_kept = make_fakes(now=NOW, history=sweep.table.history, HISTORY_RETENTION_DAYS="30")
    services = ReconcileServices(short_kept.services, sweep.audits, sweep.table.history, clock=lambda: NOW)

    # When a sweep asks for 31, Then it is refused before anything is read
    with pytest.raises(ReconcileRequestError, match="at most 30, the stack's HistoryRetentionDays"):
        reconcile(ReconcileRequest(days=31), services)
    assert sweep.audits.asked == []


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({}, "days: Field required"),
        ({"days": 0}, "days: Input should be greater than or equal to 1"),
        ({"days": 91}, "days: Input should be less than or equal to 90"),
        ({"days": "7"}, "days: Input should be a valid integer"),
        ({"days": 7, "day": 1}, "day: Extra inputs are not permitted"),
        ([], "the request: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_request_is_refused_in_plain_words(event: Any, problem: str) -> None:
    with pytest.raises(ReconcileRequestError) as refused:
        ReconcileRequest.from_event(event)
    assert str(refused.value).startswith('the reconciliation request must be {"days": 1 to 90}: ')
    assert problem in str(refused.value)


def test_describe_audit_task_reads_as_the_notification_device_defender_sends() -> None:
    # Given an audit's description (DescribeAuditTask: checks as a map, counts per outcome) ...
    described = {
        "taskStatus": "COMPLETED",
        "taskType": "SCHEDULED_AUDIT_TASK",
        "taskStartTime": datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        "scheduledAuditName": "daily",
        "taskStatistics": {
            "totalChecks": 3,
            "inProgressChecks": 0,
            "waitingForDataCollectionChecks": 0,
            "compliantChecks": 1,
            "nonCompliantChecks": 1,
            "failedChecks": 1,
            "canceledChecks": 0,
        },
        "auditDetails": {
            "LOGGING_DISABLED_CHECK": {
                "checkRunStatus": "COMPLETED_NON_COMPLIANT",
                "checkCompliant": False,
                "totalResourcesCount": 1,
                "nonCompliantResourcesCount": 1,
                "suppressedNonCompliantResourcesCount": 0,
            },
            "CA_CERTIFICATE_EXPIRING_CHECK": {
                "checkRunStatus": "COMPLETED_COMPLIANT",
                "checkCompliant": True,
                "totalResourcesCount": 2,
                "nonCompliantResourcesCount": 0,
            },
            "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK": {
                "checkRunStatus": "FAILED",
                "errorCode": "INSUFFICIENT_PERMISSIONS",
                "message": "no access",
            },
        },
    }

    # When it is read as a notification
    message = notification_of(ACCOUNT_ID, "a1", described)

    # Then it is the documented audit-completion message (reference §5.1): the checks as a list, counts per outcome
    assert message == {
        "accountId": ACCOUNT_ID,
        "taskId": "a1",
        "taskStatus": "COMPLETED",
        "taskType": "SCHEDULED_AUDIT_TASK",
        "scheduledAuditName": "daily",
        "failedChecksCount": 1,
        "canceledChecksCount": 0,
        "nonCompliantChecksCount": 1,
        "compliantChecksCount": 1,
        "totalChecksCount": 3,
        "taskStartTime": 1_796_104_800_000,
        "auditDetails": [
            {
                "checkName": "LOGGING_DISABLED_CHECK",
                "checkRunStatus": "COMPLETED_NON_COMPLIANT",
                "nonCompliantResourcesCount": 1,
                "totalResourcesCount": 1,
                "suppressedNonCompliantResourcesCount": 0,
            },
            {
                "checkName": "CA_CERTIFICATE_EXPIRING_CHECK",
                "checkRunStatus": "COMPLETED_COMPLIANT",
                "nonCompliantResourcesCount": 0,
                "totalResourcesCount": 2,
            },
            {
                "checkName": "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK",
                "checkRunStatus": "FAILED",
                "nonCompliantResourcesCount": 0,
                "totalResourcesCount": 0,
                "errorCode": "INSUFFICIENT_PERMISSIONS",
                "message": "no access",
            },
        ],
    }
    assert AuditCompletionNotification.model_validate(message).task_id == "a1"
