"""Per-finding messages through the real handler and the real ASL: one execution per window, tasks of at
most 25 finding ids (issue item 2, failure-mode C24)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from audit_remediator.models.plan import FindingWindowPlan
from audit_remediator.planner import window_batches
from sandbox import ExecutionResult, Sandbox
from sandbox.workflow import (
    PARAMETERS,
    TEMPLATE,
    TIME_SCALE,
    Workflow,
    events_of,
)

EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
WINDOW_SECONDS = 3600
APPROVAL_EXPIRY_SECONDS = 86400  # the template's default ApprovalExpirySeconds


@pytest.fixture(scope="module")
def workflow() -> Iterator[Workflow]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        stack = sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "FindingWindowSeconds": WINDOW_SECONDS})
        workflow = Workflow(sandbox, stack)
        workflow.subscribe_reports()
        yield workflow


class HeldWindow:
    """The sandbox clock stopped one second into a window, so that every delivery of a test reads the
    same instant and every execution waits at its window until the test closes it; a slow machine
    changes neither. Closing moves the clock past the window's end and lets it run again."""

    def __init__(self, wf: Workflow) -> None:
        self.clock = wf.sb.clock
        start = (int(self.clock.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS + 1
        self.clock.freeze(at=datetime.fromtimestamp(start, UTC))

    def close(self) -> None:
        # The workflow reads the inbox 15 s after closesAt.
        self.clock.advance(WINDOW_SECONDS + 15)
        self.clock.resume()


@pytest.fixture
def held_window(wf: Workflow) -> Iterator[HeldWindow]:
    window = HeldWindow(wf)
    yield window
    window.clock.resume()


def deliver_findings(wf: Workflow, check: str, count: int) -> tuple[list[dict[str, Any]], list[str]]:
    identifiers = [{"deviceCertificateId": f"{n:064x}"} for n in range(count)]
    audit = wf.seed_audit({check: identifiers})
    outcomes = [wf.deliver(wf.finding_notification(finding)) for finding in wf.findings(audit, check)]
    return outcomes, audit.ids(check)


def window_of(outcomes: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    [name] = {outcome["execution"]["name"] for outcome in outcomes}
    return name, outcomes[0]["execution"]["input"]


def most_tasks_followed_at_once(wf: Workflow) -> int:
    """From the call log: a task is followed from its start call to its last status read."""
    spans: dict[str, list[float]] = {}
    for call in wf.sb.calls.of("iot"):
        if call.operation in {"StartAuditMitigationActionsTask", "DescribeAuditMitigationActionsTask"}:
            spans.setdefault(call.params["taskId"], []).append(call.started_at)
    edges = sorted(
        [(min(times), 1) for times in spans.values()] + [(max(times), -1) for times in spans.values()]
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def report(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    output: dict[str, Any] = result.output_json
    return output


def test_three_hundred_findings_of_one_window_become_twelve_tasks(
    wf: Workflow, held_window: HeldWindow
) -> None:
    # Given 300 per-finding messages of one audit and one rule, delivered within one window
    wf.sb.emulator.mitigation_task_seconds = 600
    executions_before = set(wf.executions())
    outcomes, finding_ids = deliver_findings(wf, EXPIRING, 300)
    held_window.close()

    # When the window closes and its one execution runs
    name, plan = window_of(outcomes)
    result = wf.wait(wf.execution_arn(name))

    # Then 12 tasks of at most 25 findings start, exactly the planner's batches, and nothing else
    assert set(wf.executions()) - executions_before == {wf.execution_arn(name)}
    expected = window_batches(FindingWindowPlan.model_validate(plan), finding_ids)
    starts = wf.start_calls()
    assert len(starts) == 12
    sent = sorted((c.params["taskId"], c.params["clientRequestToken"], c.params["target"]) for c in starts)
    planned = [t.model_dump(by_alias=True, exclude_none=True) for t in expected]
    assert sent == sorted((t["taskId"], t["clientRequestToken"], t["target"]) for t in planned)
    # Side by side, never past the account's slots; how many overlap depends on the machine's pace (the
    # sandbox clock follows the wall clock), so exactly the limit is not asserted.
    assert 2 <= most_tasks_followed_at_once(wf) <= int(wf.stack.parameters["MaxConcurrentMitigationTasks"])
    summary = report(result)
    assert summary["result"] == "full-success"
    assert summary["totals"] == {
        "tasks": 12,
        "findings": {"total": 300, "succeeded": 300, "failed": 0, "skipped": 0, "canceled": 0},
    }
    assert f"SUMMARY#{plan['rulesVersion']}#{name}" in wf.history(plan["auditTaskId"])


def test_twenty_six_findings_are_split_into_two_tasks(wf: Workflow, held_window: HeldWindow) -> None:
    # C24: botocore would accept 26 finding ids; the workflow never sends more than 25
    outcomes, finding_ids = deliver_findings(wf, EXPIRING, 26)
    held_window.close()
    name, plan = window_of(outcomes)

    result = wf.wait(wf.execution_arn(name))

    sent = sorted((c.params["taskId"], len(c.params["target"]["findingIds"])) for c in wf.start_calls())
    assert sent == [(f"{plan['taskIdPrefix']}-0", 25), (f"{plan['taskIdPrefix']}-1", 1)]
    assert sorted(i for c in wf.start_calls() for i in c.params["target"]["findingIds"]) == sorted(
        finding_ids
    )
    assert report(result)["totals"]["findings"]["succeeded"] == 26


def approval_requests(wf: Workflow, audit_task_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The audit's approval records, once the workflow has asked for one."""
    deadline = time.monotonic() + timeout
    while True:
        records = [v for k, v in wf.history(audit_task_id).items() if k.startswith("APPROVAL#")]
        if records or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def test_a_window_over_its_rule_cap_waits_whole_for_approval_and_expired_starts_nothing(
    wf: Workflow, held_window: HeldWindow
) -> None:
    # The shared-certificate rule allows 25 affected resources; 26 need a human
    outcomes, _ = deliver_findings(wf, SHARED, 26)
    held_window.close()
    name, plan = window_of(outcomes)

    # Then the window's findings wait as one group for approval: the rule's whole check of the audit, never a part
    [request] = approval_requests(wf, plan["auditTaskId"])
    assert wf.start_calls() == []
    assert request["status"] == "PENDING"
    assert request["taskId"] == plan["overCapTask"]["taskId"]
    sent = json.loads(request["request"])
    assert sent["Target"] == {
        "AuditTaskId": plan["auditTaskId"],
        "AuditCheckToReasonCodeFilter": plan["overCapTask"]["target"]["auditCheckToReasonCodeFilter"],
    }
    assert sent["AuditCheckToActionsMapping"] == plan["auditCheckToActionsMapping"]

    # And unanswered, it expires and nothing starts (the time-out runs on the sandbox clock once the wait begins)
    wf.sb.clock.wait_for_waiters(1)
    wf.sb.clock.advance(APPROVAL_EXPIRY_SECONDS + 1)
    result = wf.wait(wf.execution_arn(name))
    assert wf.start_calls() == []
    summary = report(result)
    assert summary["result"] == "needs-human"
    assert summary["capped"] == []
    [outcome] = summary["tasks"]
    assert (outcome["status"], outcome["mode"]) == ("APPROVAL_EXPIRED", "approve")


def test_a_window_that_has_already_closed_is_not_waited_for(wf: Workflow, held_window: HeldWindow) -> None:
    # An execution started (or redriven) after its window closed reads the inbox at once
    outcomes, _ = deliver_findings(wf, EXPIRING, 1)
    name, plan = window_of(outcomes)
    held_window.clock.wait_for_waiters(1)
    wf.sb.client("stepfunctions").stop_execution(executionArn=wf.execution_arn(name))
    assert wf.wait(wf.execution_arn(name)).status == "ABORTED"
    held_window.clock.resume()
    late = {**plan, "window": {**plan["window"], "closesAt": int(held_window.clock.time()) - 60}}

    result = wf.run(late)

    entered = [e["stateEnteredEventDetails"]["name"] for e in events_of(result, "WaitStateEntered")]
    assert "Wait for finding window to close" not in entered
    assert report(result)["totals"]["findings"]["succeeded"] == 1
