"""RemediationStateMachine from template.yaml against the Device Defender emulator: starting, following,
reporting and failing mitigation tasks (failure-modes C17-C23, C25, C27, D33, A1)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sandbox import ExecutionResult
from sandbox.workflow import (
    PARAMETERS,
    TEMPLATE,
    Workflow,
    audit_plan,
    events_of,
    task,
)
from tests.integration.workflow.test_approvals import cli, pending_of

ACCOUNT = {"account": "123456789012"}
LOGGING = "LOGGING_DISABLED_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


def logging_task(wf: Workflow, audit_task_id: str, finding_ids: list[str], **options: Any) -> dict[str, Any]:
    del audit_task_id
    return task({"findingIds": finding_ids}, {LOGGING: [wf.action("EnableErrorLoggingAction")]}, **options)


def report(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    output: dict[str, Any] = result.output_json
    return output


def only_task(result: ExecutionResult) -> dict[str, Any]:
    outcome: dict[str, Any]
    [outcome] = report(result)["tasks"]
    return outcome


def start_attempts(wf: Workflow) -> list[tuple[str, str, str]]:
    return [(c.params["taskId"], c.params["clientRequestToken"], c.outcome) for c in wf.start_calls()]


def test_an_audit_notification_is_remediated_recorded_and_reported(wf: Workflow) -> None:
    # Given an audit with a shared certificate, logging off and an overly permissive policy (approve rule)
    device = wf.device("AuditedSensor")
    policy = {"policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}}
    audit = wf.seed_audit(
        {SHARED: [device], LOGGING: [ACCOUNT], "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": [policy]}
    )

    # When its completion notification reaches the handler, the workflow runs and an operator rejects the policy group
    outcome = wf.deliver(wf.audit_notification(audit))
    [waiting] = pending_of(wf, audit)
    assert cli(wf, "reject", audit.task_id, waiting["taskId"]).exit_code == 0
    result = wf.wait(wf.execution_arn(outcome["execution"]["name"]))

    # Then one task per planned enforce task is started, with the plan's id and token, and followed to the end
    summary = report(result)
    planned = {t["taskId"]: t for t in outcome["execution"]["input"]["tasks"]}
    enforce = [t for t in planned.values() if t["mode"] == "enforce"]
    assert [(i, tok) for i, tok, _ in start_attempts(wf)] == [
        (t["taskId"], t["clientRequestToken"]) for t in enforce
    ]
    assert summary["result"] == "full-success"
    assert summary["auditTaskId"] == audit.task_id
    statistics = {t["taskId"]: t.get("statistics") for t in summary["tasks"]}
    assert statistics[enforce[0]["taskId"]] == {
        SHARED: {"total": 1, "succeeded": 1, "failed": 0, "skipped": 0, "canceled": 0},
        LOGGING: {"total": 1, "succeeded": 1, "failed": 0, "skipped": 0, "canceled": 0},
    }
    assert waiting["request"]["AuditCheckToActionsMapping"] == {
        "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": [wf.action("ReplacePolicyWithBlankAction")]
    }
    assert [(a["taskId"], a["status"]) for a in summary["approvals"]] == [
        (waiting["taskId"], "APPROVAL_REJECTED")
    ]
    # And every task and the summary are in the history table, the report on the reports topic
    records = wf.history(audit.task_id)
    written = {sk for sk in records if sk.startswith(("TASK#", "SUMMARY#"))}
    assert written == {f"TASK#{task_id}" for task_id in planned} | {f"SUMMARY#{outcome['rulesVersion']}"}
    assert records[f"SUMMARY#{outcome['rulesVersion']}"]["report"] == summary
    published = wf.reports(at_least=2)
    assert [m for m in published if m.get("kind") == "remediation-report"] == [summary]
    assert [m["taskId"] for m in published if m.get("kind") == "approval-request"] == [waiting["taskId"]]


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted-then-500", "500-before-accepting"])
def test_a_failed_start_is_retried_with_the_same_task_id_and_token(wf: Workflow, accepted: bool) -> None:
    # C17: the first StartAuditMitigationActionsTask answers 500, possibly after the service took the task
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))

    def the_service_accepts(params: dict[str, Any]) -> bool:
        if accepted:
            wf.sb.emulator.handle("StartAuditMitigationActionsTask", params, None)
        return True

    wf.sb.faults.add(
        "iot", "StartAuditMitigationActionsTask", error="InternalFailureException", when=the_service_accepts
    )

    result = wf.run(audit_plan(audit.task_id, planned))

    # Then the retry repeats the same id and token, succeeds, and exactly one task exists
    same = (planned["taskId"], planned["clientRequestToken"])
    assert start_attempts(wf) == [(*same, "InternalFailureException"), (*same, "ok")]
    assert [task_id for task_id in wf.mitigation_tasks() if task_id == planned["taskId"]] == [
        planned["taskId"]
    ]
    assert only_task(result)["status"] == "COMPLETED"
    assert report(result)["result"] == "full-success"


def test_an_existing_task_with_the_planned_target_is_followed_not_duplicated(wf: Workflow) -> None:
    # C18: a task with our id exists already (older deployment, another token), with the same target and actions
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))
    with wf.sb.calls.pause():
        wf.sb.client("iot").start_audit_mitigation_actions_task(
            taskId=planned["taskId"],
            target=planned["target"],
            auditCheckToActionsMapping=planned["auditCheckToActionsMapping"],
            clientRequestToken="older-deployment-" + planned["clientRequestToken"],
        )
    tasks_before = set(wf.mitigation_tasks())

    result = wf.run(audit_plan(audit.task_id, planned))

    # Then the workflow describes it, finds it equal, follows it to its end and starts nothing else
    assert [outcome for *_, outcome in start_attempts(wf)] == ["TaskAlreadyExistsException"]
    assert set(wf.mitigation_tasks()) == tasks_before
    assert next(c.params for c in wf.sb.calls.of("iot", "DescribeAuditMitigationActionsTask")) == {
        "taskId": planned["taskId"]
    }
    assert only_task(result)["status"] == "COMPLETED"
    assert report(result)["result"] == "full-success"


@pytest.mark.parametrize("difference", ["target", "actions"])
def test_an_existing_task_with_another_target_needs_a_human(wf: Workflow, difference: str) -> None:
    # C18: same id, but a different target or action list: never follow it, never start under another id
    audit = wf.seed_audit({LOGGING: [ACCOUNT, ACCOUNT]})
    first, second = audit.ids(LOGGING)
    planned = logging_task(wf, audit.task_id, [first])
    existing_target = {"findingIds": [second]} if difference == "target" else planned["target"]
    existing_actions = (
        planned["auditCheckToActionsMapping"]
        if difference == "target"
        else {LOGGING: [wf.action("PublishFindingToReportsAction")]}
    )
    with wf.sb.calls.pause():
        wf.sb.client("iot").start_audit_mitigation_actions_task(
            taskId=planned["taskId"],
            target=existing_target,
            auditCheckToActionsMapping=existing_actions,
            clientRequestToken="older-deployment-" + planned["clientRequestToken"],
        )
    tasks_before = set(wf.mitigation_tasks())

    result = wf.run(audit_plan(audit.task_id, planned))

    outcome = only_task(result)
    assert outcome["status"] == "NEEDS_HUMAN"
    assert outcome["error"] == "Iot.TaskAlreadyExistsException"
    assert "already exists" in outcome["cause"]
    assert report(result)["result"] == "failed"
    assert [outcome for *_, outcome in start_attempts(wf)] == ["TaskAlreadyExistsException"]
    assert set(wf.mitigation_tasks()) == tasks_before
    assert wf.history(audit.task_id)[f"TASK#{planned['taskId']}"]["status"] == "NEEDS_HUMAN"


def test_throttling_on_start_and_on_status_reads_is_retried(wf: Workflow) -> None:
    # C19
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))
    wf.sb.faults.add("iot", "StartAuditMitigationActionsTask", error="ThrottlingException", times=2)
    wf.sb.faults.add("iot", "DescribeAuditMitigationActionsTask", error="ThrottlingException", times=1)

    result = wf.run(audit_plan(audit.task_id, planned))

    assert [outcome for *_, outcome in start_attempts(wf)] == [
        "ThrottlingException",
        "ThrottlingException",
        "ok",
    ]
    reads = [c.outcome for c in wf.sb.calls.of("iot", "DescribeAuditMitigationActionsTask")]
    assert reads[:2] == ["ThrottlingException", "ok"]
    assert only_task(result)["status"] == "COMPLETED"


def test_limit_exceeded_is_waited_out(wf: Workflow) -> None:
    # C20: HTTP 410 while IoT runs too many tasks - a longer backoff, not a hard failure
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))
    wf.sb.faults.add("iot", "StartAuditMitigationActionsTask", error="LimitExceededException", times=3)

    result = wf.run(audit_plan(audit.task_id, planned))

    assert [outcome for *_, outcome in start_attempts(wf)] == ["LimitExceededException"] * 3 + ["ok"]
    assert only_task(result)["status"] == "COMPLETED"


def test_a_limit_that_persists_fails_the_run_with_its_reason(wf: Workflow) -> None:
    # C20: after the bounded retries the execution fails (alarm and EventBridge report), naming the error
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))
    wf.sb.faults.add(
        "iot",
        "StartAuditMitigationActionsTask",
        error="LimitExceededException",
        times=None,
        message="too many tasks",
    )

    result = wf.run(audit_plan(audit.task_id, planned))

    assert result.status == "FAILED"
    assert result["error"] == "Iot.LimitExceededException"
    assert "too many tasks" in result["cause"]
    assert [outcome for *_, outcome in start_attempts(wf)] == ["LimitExceededException"] * 9
    assert planned["taskId"] not in wf.mitigation_tasks()
    # And EventBridge reports the failed execution on the reports topic (C26)
    [ended] = wf.reports(at_least=1)
    assert (ended["kind"], ended["status"], ended["executionArn"]) == (
        "execution-ended-abnormally",
        "FAILED",
        result["executionArn"],
    )


def test_an_invalid_request_is_reported_not_retried(wf: Workflow) -> None:
    # C21: a finding id IoT does not know
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, ["no-such-finding"])

    result = wf.run(audit_plan(audit.task_id, planned))

    assert [outcome for *_, outcome in start_attempts(wf)] == ["InvalidRequestException"]
    outcome = only_task(result)
    assert outcome["status"] == "REJECTED"
    assert outcome["error"] == "Iot.InvalidRequestException"
    assert "no-such-finding does not exist" in outcome["cause"]
    assert report(result)["result"] == "failed"
    recorded = wf.history(audit.task_id)[f"TASK#{planned['taskId']}"]["outcome"]
    assert (recorded["error"], recorded["cause"]) == (outcome["error"], outcome["cause"])


def test_a_task_whose_findings_fail_is_partial_and_lists_each_failure(wf: Workflow) -> None:
    # C23: two devices are quarantined, the third finding names a certificate IoT does not know
    devices = [wf.device("PartialSensorA"), wf.device("PartialSensorB")]
    audit = wf.seed_audit({SHARED: [*devices, {"deviceCertificateId": "f" * 64}]})
    unknown = audit.ids(SHARED)[2]
    actions = [wf.action("QuarantineThingsAction"), wf.action("DeactivateDeviceCertificateAction")]
    planned = task({"findingIds": audit.ids(SHARED)}, {SHARED: actions})

    result = wf.run(audit_plan(audit.task_id, planned))

    outcome = only_task(result)
    assert outcome["status"] == "FAILED"
    assert outcome["statistics"][SHARED] == {
        "total": 3,
        "succeeded": 2,
        "failed": 1,
        "skipped": 0,
        "canceled": 0,
    }
    assert outcome["failures"] == [
        {"findingId": unknown, "actionName": actions[0], "errorCode": "ResourceNotFoundException"}
    ]
    assert report(result)["result"] == "partial"
    # (the verification of the findings, made as its own function's role, reads them again)
    workflow_role = wf.stack.physical_ids["RemediationStateMachineRole"]
    listed = [
        c
        for c in wf.sb.calls.of("iot", "ListAuditMitigationActionsExecutions")
        if workflow_role in (c.caller or "")
    ]
    assert sorted(c.params["findingId"] for c in listed) == sorted(audit.ids(SHARED))
    assert {c.params["taskId"] for c in listed} == {planned["taskId"]}


def test_a_task_whose_every_finding_fails_is_a_failure(wf: Workflow) -> None:
    audit = wf.seed_audit({SHARED: [{"deviceCertificateId": "e" * 64}]})
    planned = task({"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]})

    result = wf.run(audit_plan(audit.task_id, planned))

    assert only_task(result)["status"] == "FAILED"
    assert report(result)["result"] == "failed"
    assert report(result)["totals"]["findings"]["failed"] == 1


def test_a_completed_task_with_skipped_findings_is_partial(wf: Workflow) -> None:
    # C23: the reason-code filter leaves one of the audit's findings out
    audit = wf.seed_audit({EXPIRING: [{"deviceCertificateId": "1" * 64}, {"deviceCertificateId": "2" * 64}]})
    wf.findings(audit, EXPIRING)[1].reason_code = "CERTIFICATE_PAST_EXPIRATION"
    planned = task(
        {
            "auditTaskId": audit.task_id,
            "auditCheckToReasonCodeFilter": {EXPIRING: ["CERTIFICATE_APPROACHING_EXPIRATION"]},
        },
        {EXPIRING: [wf.action("PublishFindingToReportsAction")]},
    )

    result = wf.run(audit_plan(audit.task_id, planned))

    outcome = only_task(result)
    assert outcome["status"] == "COMPLETED"
    assert outcome["statistics"][EXPIRING] == {
        "total": 2,
        "succeeded": 1,
        "failed": 0,
        "skipped": 1,
        "canceled": 0,
    }
    assert report(result)["result"] == "partial"
    assert not wf.sb.calls.of("iot", "ListAuditMitigationActionsExecutions")


def test_a_canceled_task_is_reported_with_its_canceled_findings(wf: Workflow) -> None:
    # C23: someone cancels the task while it runs
    wf.sb.emulator.mitigation_task_seconds = 7 * 24 * 3600
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING))
    execution = wf.start(audit_plan(audit.task_id, planned))
    deadline = time.monotonic() + 20
    while planned["taskId"] not in wf.mitigation_tasks():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with wf.sb.calls.pause():
        wf.sb.client("iot").cancel_audit_mitigation_actions_task(taskId=planned["taskId"])

    result = wf.wait(execution)

    outcome = only_task(result)
    assert outcome["status"] == "CANCELED"
    assert outcome["statistics"][LOGGING]["canceled"] == 1
    assert report(result)["result"] == "failed"


def test_findings_never_travel_through_the_workflow_state(wf: Workflow) -> None:
    # C25: 250 findings of about 2 KB each are far more than a state may hold; only ids and counts move
    identifiers = [{"deviceCertificateId": f"{n:064x}"} for n in range(250)]
    audit = wf.seed_audit({EXPIRING: identifiers}, additional_info={"NOTE": "x" * 2000})
    outcome = wf.deliver(wf.audit_notification(audit))

    result = wf.wait(wf.execution_arn(outcome["execution"]["name"]))

    assert report(result)["totals"]["findings"]["succeeded"] == 250
    assert len(wf.start_calls()) == 1
    history = json.dumps(result.history, default=str)
    assert not [finding_id for finding_id in audit.ids(EXPIRING) if finding_id in history]
    assert "x" * 2000 not in history
    assert max(len(json.dumps(event, default=str)) for event in result.history) < 8 * 1024


def test_a_rerun_of_the_same_plan_starts_no_second_task(wf: Workflow) -> None:
    # C27: a redrive or re-run replays the start with the same id and token; IoT answers with the same task
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    plan = audit_plan(audit.task_id, logging_task(wf, audit.task_id, audit.ids(LOGGING)))
    planned = plan["tasks"][0]

    first = wf.run(plan)
    again = wf.run(plan)

    assert report(first)["result"] == report(again)["result"] == "full-success"
    same = (planned["taskId"], planned["clientRequestToken"], "ok")
    assert start_attempts(wf) == [same, same]
    assert [t for t in wf.mitigation_tasks() if t == planned["taskId"]] == [planned["taskId"]]


def test_a_run_that_failed_after_starting_its_task_is_rerun_without_a_second_task(wf: Workflow) -> None:
    # C27: the first run started the task, then could not record anything and failed
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    plan = audit_plan(audit.task_id, logging_task(wf, audit.task_id, audit.ids(LOGGING)))
    wf.sb.faults.add(
        "dynamodb",
        "PutItem",
        error="ValidationException",
        times=None,
        when=lambda params: params.get("Item", {}).get("kind", {}).get("S") != "pre-state",
    )
    failed = wf.run(plan)
    assert failed.status == "FAILED"
    wf.sb.faults.clear()

    rerun = wf.run(plan)

    assert report(rerun)["result"] == "full-success"
    task_id = plan["tasks"][0]["taskId"]
    assert [outcome for *_, outcome in start_attempts(wf)] == ["ok", "ok"]
    assert [t for t in wf.mitigation_tasks() if t == task_id] == [task_id]


def test_a_dry_run_task_records_the_exact_call_and_starts_nothing(wf: Workflow) -> None:
    # D33
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(wf, audit.task_id, audit.ids(LOGGING), mode="dry-run")

    result = wf.run(audit_plan(audit.task_id, planned))

    assert wf.start_calls() == []
    expected = {
        "TaskId": planned["taskId"],
        "Target": {"FindingIds": audit.ids(LOGGING)},
        "AuditCheckToActionsMapping": planned["auditCheckToActionsMapping"],
        "ClientRequestToken": planned["clientRequestToken"],
    }
    assert report(result)["dryRun"] == [
        {"taskId": planned["taskId"], "checks": [LOGGING], "request": expected}
    ]
    recorded = wf.history(audit.task_id)[f"TASK#{planned['taskId']}"]
    assert (recorded["status"], recorded["outcome"]["request"]) == ("DRY_RUN", expected)


def test_actions_outside_this_stack_are_never_started(wf: Workflow) -> None:
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = task({"findingIds": audit.ids(LOGGING)}, {LOGGING: ["someone-elses-EnableLogging"]})

    result = wf.run(audit_plan(audit.task_id, planned))

    assert wf.start_calls() == []
    assert only_task(result)["status"] == "REJECTED"


def test_one_notification_delivered_three_times_starts_one_execution_and_one_task(wf: Workflow) -> None:
    # A1
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    event = wf.sns_event(wf.audit_notification(audit))

    outcomes = [wf.sb.invoke("AuditEventsFunction", event) for _ in range(3)]
    result = wf.wait(wf.execution_arn(outcomes[0]["execution"]["name"]))

    assert [o["decision"] for o in outcomes] == ["remediate", "duplicate", "duplicate"]
    assert len(wf.sb.calls.of("stepfunctions", "StartExecution", outcome="ok")) == 1
    assert report(result)["result"] == "full-success"
    assert len(wf.start_calls()) == 1


@pytest.fixture(scope="module")
def short_polls(workflow: Workflow) -> Workflow:
    """A second stack whose status reads come every 1-2 s, so 40 of them take a fraction of a second."""
    parameters = {
        **PARAMETERS,
        "ManageAccountAuditConfiguration": "false",
        "PollInitialWaitSeconds": 1,
        "PollMaxWaitSeconds": 2,
    }
    return Workflow(
        workflow.sb, workflow.sb.deploy(TEMPLATE, parameters=parameters, stack_name="short-polls")
    )


def test_a_task_that_never_ends_is_followed_a_bounded_number_of_times(
    wf: Workflow, short_polls: Workflow
) -> None:
    # C22: the task stays IN_PROGRESS for a week
    wf.sb.emulator.mitigation_task_seconds = 7 * 24 * 3600
    audit = short_polls.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(short_polls, audit.task_id, audit.ids(LOGGING))

    result = short_polls.run(audit_plan(audit.task_id, planned))

    outcome = only_task(result)
    assert outcome["status"] == "STILL_RUNNING"
    assert "needs a human" in outcome["reason"]
    assert len(wf.sb.calls.of("iot", "DescribeAuditMitigationActionsTask")) == 40
    waits = events_of(result, "WaitStateEntered")
    assert len(waits) == 40
    # Measured with GetExecutionHistory: 14 events per status read (the kill switch is read after each),
    # the whole run far below 25,000.
    first, last = (events_of(result, "WaitStateEntered")[i]["id"] for i in (0, -1))
    assert (last - first) / (len(waits) - 1) == 14
    assert len(result.history) < 700


def test_a_stack_in_dry_run_starts_nothing_even_when_the_plan_says_enforce(workflow: Workflow) -> None:
    # D33: only a deploy turns dry-run off; the stack's RemediationMode reaches the ASL, not the event
    parameters = {**PARAMETERS, "ManageAccountAuditConfiguration": "false", "RemediationMode": "DryRun"}
    dry = Workflow(workflow.sb, workflow.sb.deploy(TEMPLATE, parameters=parameters, stack_name="kill-switch"))
    workflow.sb.calls.clear()
    audit = dry.seed_audit({LOGGING: [ACCOUNT]})
    planned = logging_task(dry, audit.task_id, audit.ids(LOGGING))

    result = dry.run(audit_plan(audit.task_id, planned))

    assert dry.start_calls() == []
    assert only_task(result)["status"] == "DRY_RUN"
