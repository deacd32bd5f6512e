"""The kill switch (failure-modes A11, D39): one SSM parameter the stack owns, read by the function before
every start and by the workflow before every StartAuditMitigationActionsTask and after every status read.
Pulled or unreadable, nothing new starts and running tasks are cancelled; its changes reach the reports topic."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.lambdas.invocation import LambdaFunctionError
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow, audit_plan, task

LOGGING = "LOGGING_DISABLED_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
ACCOUNT = {"account": "123456789012"}


@pytest.fixture(scope="module")
def workflow() -> Iterator[Workflow]:
    # One task in flight at a time, so "nothing more starts" is visible: the other task starts only after one ends.
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        stack = sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "MaxConcurrentMitigationTasks": "1"})
        workflow = Workflow(sandbox, stack)
        workflow.subscribe_reports()
        yield workflow


@pytest.fixture
def wf(workflow: Workflow) -> Iterator[Workflow]:
    workflow.sb.faults.clear()
    workflow.sb.calls.clear()
    set_switch(workflow, "released")
    workflow.reports()
    emulator = workflow.sb.emulator
    saved = emulator.mitigation_task_seconds
    yield workflow
    emulator.mitigation_task_seconds = saved
    workflow.sb.faults.clear()
    set_switch(workflow, "released")
    workflow.cancel_running_tasks()


def switch_name(wf: Workflow) -> str:
    return str(wf.stack.outputs["KillSwitchParameterName"])


def set_switch(wf: Workflow, value: str, description: str | None = None) -> None:
    extra = {"Description": description} if description else {}
    with wf.sb.calls.pause():
        wf.sb.client("ssm").put_parameter(Name=switch_name(wf), Value=value, Overwrite=True, **extra)


def shared_and_logging_tasks(wf: Workflow) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    device = wf.device(f"Sensor{len(wf.mitigation_tasks())}")
    audit = wf.seed_audit({SHARED: [device], LOGGING: [ACCOUNT]})
    first = task(
        {"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("DeactivateDeviceCertificateAction")]}
    )
    second = task({"findingIds": audit.ids(LOGGING)}, {LOGGING: [wf.action("EnableErrorLoggingAction")]})
    return audit, first, second


def test_pulling_the_switch_mid_run_cancels_the_running_task_and_starts_nothing_more(wf: Workflow) -> None:
    # Given a run of two tasks, the first still running when its status is first read
    wf.sb.emulator.mitigation_task_seconds = 100_000
    audit, first, second = shared_and_logging_tasks(wf)

    def operator_pulls_the_switch(params: dict[str, Any]) -> bool:
        set_switch(wf, "pulled")
        return True

    # (A fault hook is the sandbox's way to act at a given call: this one only waits a sandbox second.)
    wf.sb.faults.add("iot", "DescribeAuditMitigationActionsTask", delay=1, when=operator_pulls_the_switch)

    # When the operator pulls the switch while the first task runs
    result = wf.run(audit_plan(audit.task_id, first, second))

    # Then the running task is cancelled and recorded CANCELED, and the other is never started (with one
    # mitigation task slot, either may take it first)
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    # (Only this run's tasks: an execution an earlier test of the module left waiting for the one slot may
    # start its own task meanwhile; and a start retried after its state timeout reaches IoT twice with one id.)
    ours = {first["taskId"], second["taskId"]}
    [started] = {call.params["taskId"] for call in wf.start_calls()} & ours
    first, second = (first, second) if started == first["taskId"] else (second, first)
    assert [c.params["taskId"] for c in wf.sb.calls.of("iot", "CancelAuditMitigationActionsTask")] == [
        first["taskId"]
    ]
    assert wf.mitigation_tasks()[first["taskId"]].status == "CANCELED"
    report = result.output_json
    outcomes = {t["taskId"]: t for t in report["tasks"]}
    assert outcomes[first["taskId"]]["status"] == "CANCELED"
    assert outcomes[first["taskId"]]["canceledBy"] == "kill switch pulled; the task was cancelled"
    assert outcomes[second["taskId"]]["status"] == "HALTED"
    assert outcomes[second["taskId"]]["reason"] == "kill switch pulled; the task was not started"
    # And the report shows the canceled counts
    assert report["result"] == "halted"
    assert report["killSwitch"] == {
        "notStarted": 1,
        "canceledTasks": 1,
        "canceledFindings": 1,
        "reason": "kill switch pulled; the task was not started",
    }
    assert report["totals"]["findings"]["canceled"] == 1
    records = wf.history(audit.task_id)
    assert records[f"TASK#{first['taskId']}"]["status"] == "CANCELED"
    assert records[f"TASK#{second['taskId']}"]["status"] == "HALTED"
    published = [m for m in wf.reports(at_least=3) if m.get("kind") == "remediation-report"]
    assert [m["killSwitch"]["canceledTasks"] for m in published] == [1]


def test_a_pulled_switch_starts_no_task_and_a_released_one_starts_every_task(wf: Workflow) -> None:
    audit, first, second = shared_and_logging_tasks(wf)
    set_switch(wf, "pulled")

    halted = wf.run(audit_plan(audit.task_id, first, second))

    assert wf.start_calls() == []
    assert [t["status"] for t in halted.output_json["tasks"]] == ["HALTED", "HALTED"]

    set_switch(wf, "released")
    done = wf.run(audit_plan(audit.task_id, first, second))

    assert sorted(c.params["taskId"] for c in wf.start_calls()) == sorted([first["taskId"], second["taskId"]])
    assert done.output_json["result"] == "full-success"
    assert "killSwitch" not in done.output_json


@pytest.mark.parametrize("error", ["InternalServerError", "ParameterNotFound", "ThrottlingException"])
def test_an_unreadable_switch_means_no_mitigation_call_from_the_workflow(wf: Workflow, error: str) -> None:
    # Property 10: an error reading the switch is a pulled switch
    audit, first, _ = shared_and_logging_tasks(wf)
    wf.sb.faults.add("ssm", "GetParameter", error=error, times=None)

    result = wf.run(audit_plan(audit.task_id, first))

    assert wf.start_calls() == []
    assert wf.sb.calls.count("ssm", "GetParameter") >= 1
    [outcome] = result.output_json["tasks"]
    assert outcome["status"] == "HALTED"
    assert outcome["reason"].startswith(f"kill switch unreadable, treated as pulled: Ssm.{error}")
    assert result.output_json["result"] == "halted"


def test_an_unreadable_switch_while_a_task_runs_cancels_it(wf: Workflow) -> None:
    wf.sb.emulator.mitigation_task_seconds = 100_000
    audit, first, _ = shared_and_logging_tasks(wf)

    store_down = threading.Event()

    def switch_store_fails(params: dict[str, Any]) -> bool:
        store_down.set()
        return True

    # From the first status read on, every read of the switch fails.
    wf.sb.faults.add(
        "ssm", "GetParameter", error="InternalServerError", times=None, when=lambda _: store_down.is_set()
    )
    wf.sb.faults.add("iot", "DescribeAuditMitigationActionsTask", delay=1, when=switch_store_fails)

    result = wf.run(audit_plan(audit.task_id, first))

    [outcome] = result.output_json["tasks"]
    assert outcome["status"] == "CANCELED"
    assert outcome["canceledBy"].startswith(
        "kill switch unreadable, treated as pulled: Ssm.InternalServerError"
    )
    assert wf.sb.calls.count("iot", "CancelAuditMitigationActionsTask") == 1


def test_pulling_and_releasing_the_switch_each_send_a_notice_to_the_reports_topic(wf: Workflow) -> None:
    set_switch(wf, "pulled", description="pulled by the on-call engineer: certificates of line 3")
    pulled = wf.reports(at_least=1)
    set_switch(wf, "released", description="released: line 3 checked")
    released = wf.reports(at_least=1)

    name = switch_name(wf)
    assert [(m["kind"], m["parameter"], m["operation"], m["description"]) for m in pulled] == [
        ("kill-switch-changed", name, "Update", "pulled by the on-call engineer: certificates of line 3")
    ]
    assert [(m["kind"], m["parameter"], m["operation"], m["description"]) for m in released] == [
        ("kill-switch-changed", name, "Update", "released: line 3 checked")
    ]
    assert wf.sb.iam.denials == []


def failure_queue_payloads(wf: Workflow) -> list[dict[str, Any]]:
    with wf.sb.calls.pause():
        messages = wf.sb.client("sqs").receive_message(
            QueueUrl=wf.stack["AuditEventsFailureQueue"], MaxNumberOfMessages=10
        )["Messages"]
    return [json.loads(message["Body"]) for message in messages]


def test_a_notification_while_pulled_starts_nothing_and_its_redrive_after_release_starts_once(
    wf: Workflow,
) -> None:
    # Given an audit notification delivered while the switch is pulled
    audit, _, _ = shared_and_logging_tasks(wf)
    event = wf.sns_event(wf.audit_notification(audit))
    set_switch(wf, "pulled")

    wf.sb.invoke_async("AuditEventsFunction", event)
    wf.sb.settle()

    # Then no execution starts, the pause is in the decision log, and Lambda keeps the event
    assert wf.sb.calls.count("stepfunctions", "StartExecution") == 0
    paused = {sk: r for sk, r in wf.history(audit.task_id).items() if sk.endswith("#PAUSED")}
    [(_, record)] = paused.items()
    assert json.loads(record["decision"]) == {"decision": "paused", "reason": "kill switch pulled"}
    [failure] = failure_queue_payloads(wf)
    assert failure["responsePayload"]["errorType"] == "KillSwitchPulledError"
    assert failure["requestPayload"] == event

    # When the switch is released and the kept event is delivered again, twice
    set_switch(wf, "released")
    first = wf.sb.invoke("AuditEventsFunction", failure["requestPayload"])
    again = wf.sb.invoke("AuditEventsFunction", failure["requestPayload"])

    # Then it starts exactly one execution
    assert first["decision"] == "remediate"
    assert again["decision"] == "duplicate"
    assert wf.sb.calls.count("stepfunctions", "StartExecution") == 1
    assert [arn for arn in wf.executions() if first["execution"]["name"] in arn] == [
        wf.execution_arn(first["execution"]["name"])
    ]
    assert wf.wait(wf.execution_arn(first["execution"]["name"])).output_json["result"] == "full-success"


def test_an_unreadable_switch_means_no_execution_from_the_function(wf: Workflow) -> None:
    audit, _, _ = shared_and_logging_tasks(wf)
    wf.sb.faults.add("ssm", "GetParameter", error="InternalServerError", times=None)

    with pytest.raises(LambdaFunctionError) as failed:
        wf.deliver(wf.audit_notification(audit))

    assert failed.value.error_type == "KillSwitchPulledError"
    assert "kill switch unreadable, treated as pulled" in failed.value.error_message
    assert wf.sb.calls.count("stepfunctions", "StartExecution") == 0
    assert wf.sb.calls.count("iot", "StartAuditMitigationActionsTask") == 0
    [record] = [r for sk, r in wf.history(audit.task_id).items() if sk.endswith("#PAUSED")]
    assert json.loads(record["decision"])["reason"].startswith("kill switch unreadable, treated as pulled")
