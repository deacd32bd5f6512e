"""At most MaxConcurrentMitigationTasks tasks in flight in the account and Region, across every execution
(failure-mode D36): a task takes a slot in RemediationTable before it starts and gives it back whatever its
outcome; starts wait their turn; a slot an ended execution never gave back is reclaimed; a pulled kill switch
ends the wait. In flight is measured from Device Defender's own count of tasks in progress, not from the slots."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.executions import ExecutionResult
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow, audit_plan, task

K = 2
LOGGING = "LOGGING_DISABLED_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
ACCOUNT = {"account": "123456789012"}
SLOTS_KEY = {"pk": {"S": "SLOTS#mitigation-tasks"}, "sk": {"S": "SLOTS"}}


# Ten times slower than the other modules: sandbox time follows the wall clock, and a task's bounded wait for a
# slot (about 4,400 sandbox seconds) must outlast what seven executions side by side take on a loaded machine.
SLOTS_TIME_SCALE = TIME_SCALE * 10


@pytest.fixture(scope="module")
def workflow() -> Iterator[Workflow]:
    with Sandbox(time_scale=SLOTS_TIME_SCALE) as sandbox:
        stack = sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "MaxConcurrentMitigationTasks": str(K)})
        yield Workflow(sandbox, stack)


@pytest.fixture
def wf(workflow: Workflow) -> Iterator[Workflow]:
    workflow.sb.faults.clear()
    workflow.sb.calls.clear()
    set_switch(workflow, "released")
    emulator = workflow.sb.emulator
    saved = emulator.mitigation_task_seconds
    yield workflow
    emulator.mitigation_task_seconds = saved
    workflow.sb.faults.clear()
    set_switch(workflow, "released")
    workflow.cancel_running_tasks()
    clear_slots(workflow)


def set_switch(wf: Workflow, value: str) -> None:
    with wf.sb.calls.pause():
        wf.sb.client("ssm").put_parameter(
            Name=str(wf.stack.outputs["KillSwitchParameterName"]), Value=value, Overwrite=True
        )


def slots(wf: Workflow) -> dict[str, Any]:
    """The slots item: the task ids holding a slot, and each holder's execution."""
    with wf.sb.calls.pause():
        item = (
            wf.sb.client("dynamodb")
            .get_item(TableName=wf.stack.physical_ids["RemediationTable"], Key=SLOTS_KEY, ConsistentRead=True)
            .get("Item", {})
        )
    return {
        "holders": sorted(item.get("holders", {}).get("SS", [])),
        "executions": {
            key.removeprefix("HOLDER#"): value["M"]["executionArn"]["S"]
            for key, value in item.items()
            if key.startswith("HOLDER#")
        },
    }


def clear_slots(wf: Workflow) -> None:
    with wf.sb.calls.pause():
        wf.sb.client("dynamodb").delete_item(
            TableName=wf.stack.physical_ids["RemediationTable"], Key=SLOTS_KEY
        )


def in_progress(wf: Workflow) -> int:
    """Device Defender's own count of audit mitigation actions tasks in progress, through its API."""
    now = datetime.now(UTC) + timedelta(days=3650)
    with wf.sb.calls.pause():
        pages = (
            wf.sb.client("iot")
            .get_paginator("list_audit_mitigation_actions_tasks")
            .paginate(startTime=datetime(2000, 1, 1, tzinfo=UTC), endTime=now, taskStatus="IN_PROGRESS")
        )
        return sum(len(page["tasks"]) for page in pages)


def logging_plan(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    audit = wf.seed_audit({LOGGING: [ACCOUNT]})
    planned = task({"findingIds": audit.ids(LOGGING)}, {LOGGING: [wf.action("EnableErrorLoggingAction")]})
    return audit_plan(audit.task_id, planned), planned


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.01)


def entered(wf: Workflow, execution_arn: str, state: str) -> bool:
    with wf.sb.calls.pause():
        history = wf.sb.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )
    return any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in history["events"])


def passed_through(result: ExecutionResult, state: str) -> bool:
    return any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in result.history)


def test_k_plus_five_simultaneous_audits_never_have_more_than_k_tasks_in_flight(wf: Workflow) -> None:
    # Given K + 5 audits delivered at once, each with one task that runs a while
    wf.sb.emulator.mitigation_task_seconds = 300
    seen: list[int] = []
    lock = threading.Lock()

    def count_before_start(params: dict[str, Any]) -> bool:
        with lock:
            seen.append(in_progress(wf))
        return True

    # (A fault hook is the sandbox's way to act at a given call: this one only waits a sandbox second.)
    wf.sb.faults.add("iot", "StartAuditMitigationActionsTask", delay=1, times=None, when=count_before_start)
    plans = [logging_plan(wf) for _ in range(K + 5)]

    # When their executions run side by side
    arns = [wf.start(plan) for plan, _ in plans]
    results = [wf.wait(arn, timeout=120) for arn in arns]

    # Then Device Defender never had K tasks in progress when another started, and every task completed
    assert len(seen) == K + 5
    assert max(seen) < K, seen
    assert [r.status for r in results] == ["SUCCEEDED"] * (K + 5)
    assert [r.output_json["tasks"][0]["status"] for r in results] == ["COMPLETED"] * (K + 5)
    assert [r.output_json["result"] for r in results] == ["full-success"] * (K + 5)
    # And some waited their turn, and every slot was given back
    assert sum(passed_through(r, "Wait for a mitigation task slot") for r in results) > 0
    assert slots(wf)["holders"] == []


def test_a_slot_an_ended_execution_never_gave_back_is_reclaimed(wf: Workflow) -> None:
    # Given K executions stopped while their tasks held every slot (their tasks cancelled by hand)
    wf.sb.emulator.mitigation_task_seconds = 100_000
    held = [wf.start(logging_plan(wf)[0]) for _ in range(K)]
    wait_until(lambda: len(slots(wf)["holders"]) == K and in_progress(wf) == K)
    with wf.sb.calls.pause():
        for arn in held:
            wf.sb.client("stepfunctions").stop_execution(executionArn=arn)
    wf.cancel_running_tasks()
    assert set(slots(wf)["executions"].values()) == set(held)

    # When another audit's task needs a slot
    wf.sb.emulator.mitigation_task_seconds = 1
    plan, planned = logging_plan(wf)
    result = wf.run(plan, timeout=120)

    # Then the leaked slots are reclaimed and the task runs to its end
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert result.output_json["tasks"][0]["status"] == "COMPLETED"
    assert [c.params["taskId"] for c in wf.start_calls()][K:] == [planned["taskId"]]
    assert entered(wf, result["executionArn"], "Reclaim leaked slots")
    assert slots(wf)["holders"] == []


def test_a_pulled_kill_switch_ends_the_wait_for_a_slot_and_starts_nothing(wf: Workflow) -> None:
    # Given every slot held by a running task, and one more task waiting for a slot
    wf.sb.emulator.mitigation_task_seconds = 100_000
    running = [wf.start(logging_plan(wf)[0]) for _ in range(K)]
    wait_until(lambda: in_progress(wf) == K)
    plan, planned = logging_plan(wf)
    waiting = wf.start(plan)
    wait_until(lambda: entered(wf, waiting, "Wait for a mitigation task slot"))

    # When the operator pulls the switch
    set_switch(wf, "pulled")
    result = wf.wait(waiting, timeout=60)

    # Then the wait ends: the task is HALTED, never started, and its turn is not taken
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    [outcome] = result.output_json["tasks"]
    assert outcome["status"] == "HALTED"
    assert outcome["reason"] == "kill switch pulled; the task was not started"
    assert planned["taskId"] not in [c.params["taskId"] for c in wf.start_calls()]
    assert entered(wf, waiting, "Keep waiting for a slot?")
    assert not entered(wf, waiting, "Read kill switch before start")
    assert result.output_json["result"] == "halted"
    for arn in running:
        assert wf.wait(arn, timeout=60).status == "SUCCEEDED"
    assert slots(wf)["holders"] == []


def failing_plan(wf: Workflow) -> dict[str, Any]:
    # A certificate that no longer exists: the deactivation fails for the finding, the task ends FAILED.
    name = f"Gone{len(wf.mitigation_tasks())}"
    device = wf.device(name)
    audit = wf.seed_audit({SHARED: [device]})
    with wf.sb.calls.pause():
        iot = wf.sb.client("iot")
        [principal] = iot.list_thing_principals(thingName=name)["principals"]
        iot.detach_thing_principal(thingName=name, principal=principal)
        iot.update_certificate(certificateId=device["deviceCertificateId"], newStatus="INACTIVE")
        iot.delete_certificate(certificateId=device["deviceCertificateId"], forceDelete=True)
    planned = task(
        {"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("DeactivateDeviceCertificateAction")]}
    )
    return audit_plan(audit.task_id, planned)


def rejected_plan(wf: Workflow) -> dict[str, Any]:
    planned = task({"findingIds": ["f" * 32]}, {LOGGING: [wf.action("EnableErrorLoggingAction")]})
    return audit_plan("a" * 32, planned)


def halting_plan(wf: Workflow) -> dict[str, Any]:
    plan, _ = logging_plan(wf)

    def pull_once_the_slot_is_taken(params: dict[str, Any]) -> bool:
        set_switch(wf, "pulled")
        return True

    wf.sb.faults.add("ssm", "GetParameter", delay=1, when=pull_once_the_slot_is_taken)
    return plan


def cancelling_plan(wf: Workflow) -> dict[str, Any]:
    wf.sb.emulator.mitigation_task_seconds = 100_000
    plan, _ = logging_plan(wf)

    def pull_while_running(params: dict[str, Any]) -> bool:
        set_switch(wf, "pulled")
        return True

    wf.sb.faults.add("iot", "DescribeAuditMitigationActionsTask", delay=1, when=pull_while_running)
    return plan


@pytest.mark.parametrize(
    ("make_plan", "status"),
    [
        (lambda wf: logging_plan(wf)[0], "COMPLETED"),
        (failing_plan, "FAILED"),
        (cancelling_plan, "CANCELED"),
        (halting_plan, "HALTED"),
        (rejected_plan, "REJECTED"),
    ],
)
def test_the_slot_is_given_back_on_every_outcome(wf: Workflow, make_plan: Any, status: str) -> None:
    # Given a task that takes a slot and ends the given way
    plan = make_plan(wf)

    result = wf.run(plan, timeout=60)

    # Then its outcome is recorded and its slot is free again
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    [outcome] = result.output_json["tasks"]
    assert outcome["status"] == status, outcome
    assert entered(wf, result["executionArn"], "Acquire mitigation task slot")
    assert slots(wf)["holders"] == []
