"""Exactly one mitigation task per finding, whatever the order of an audit's notification and its
per-finding messages: through the real handler, the real ASL and the emulator's task records."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, SeededAudit, Workflow
from tests.conftest import load_event
from tests.integration.handler_clock import pin_handler_clock

EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
AGE = "DEVICE_CERTIFICATE_AGE_CHECK"
WINDOW_SECONDS = 300
# One audit notification, three findings of its two checks, and one finding delivered twice.
DELIVERIES = ("audit", (EXPIRING, 0), (EXPIRING, 1), (AGE, 0), (EXPIRING, 0))
EXECUTION_TIMEOUT = 120.0


class Windows:
    """The handler's clock and the closing of its finding windows, in the test's hands.

    The handler's clock starts an hour ahead of the wall clock, so every window's execution finds its
    window open and waits at "Wait for finding window to close"; that wait is held until the test closes
    the window, and the handler's clock then moves on to the next window.
    """

    def __init__(self) -> None:
        self.base = (int(time.time()) // WINDOW_SECONDS + 12) * WINDOW_SECONDS
        self.index = 0
        self.closed_through = 0.0
        self.condition = threading.Condition()

    def now(self) -> float:
        with self.condition:
            return float(self.base + self.index * WINDOW_SECONDS)

    def close(self) -> None:
        with self.condition:
            self.index += 1
            self.closed_through = float(self.base + self.index * WINDOW_SECONDS)
            self.condition.notify_all()

    def hold(self, env: Any, wait_seconds: float) -> None:
        # The state waits until closesAt + 15 s; a whole window separates one closesAt from the next.
        closes_at = time.time() + wait_seconds - 15
        with self.condition:
            self.condition.wait_for(
                lambda: self.closed_through >= closes_at - 5 or not env.is_running(),
                timeout=EXECUTION_TIMEOUT,
            )


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Workflow, Windows]]:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function

    windows = Windows()
    with Sandbox(time_scale=TIME_SCALE) as sandbox, pytest.MonkeyPatch.context() as patch:
        scaled_wait = wait_function.WaitFunction.__dict__["_wait_interval"]

        def held(function: Any, env: Any, wait_seconds: float) -> None:
            if isinstance(function, timestamp.Timestamp):
                windows.hold(env, wait_seconds)
                return
            scaled_wait(function, env, wait_seconds)

        patch.setattr(wait_function.WaitFunction, "_wait_interval", held)
        workflow = Workflow(
            sandbox,
            sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "FindingWindowSeconds": WINDOW_SECONDS}),
        )
        pin_handler_clock(sandbox, windows.now, load_event("foreign-topic"))
        yield workflow, windows
        windows.close()


def _message(wf: Workflow, audit: SeededAudit, delivery: Any) -> dict[str, Any]:
    if delivery == "audit":
        return wf.audit_notification(audit)
    check, index = delivery
    return wf.finding_notification(wf.findings(audit, check)[index])


def _finish(wf: Workflow, windows: Windows, before: set[str]) -> None:
    """Close the open window and let every execution started since `before` run to its end."""
    windows.close()
    for arn in set(wf.executions()) - before:
        assert wf.wait(arn, timeout=EXECUTION_TIMEOUT).status == "SUCCEEDED"


def _deliver_together(wf: Workflow, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(messages))
    errors: list[BaseException] = []
    outcomes: list[dict[str, Any]] = []

    def deliver(message: dict[str, Any]) -> None:
        barrier.wait()
        try:
            outcomes.append(wf.deliver(message))
        except BaseException as error:  # reported by the test thread below
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(message,)) for message in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(DELIVERIES))),
    closes_after=st.sets(st.integers(0, len(DELIVERIES) - 2)),
    together=st.one_of(st.none(), st.integers(0, len(DELIVERIES) - 2)),
)
@example(order=[0, 1, 2, 3, 4], closes_after=set(), together=None)  # the audit first
@example(order=[1, 3, 0, 2, 4], closes_after=set(), together=None)  # findings first, one window
@example(order=[1, 2, 3, 0, 4], closes_after={2}, together=None)  # the audit after the findings' window
@example(order=[1, 0, 2, 3, 4], closes_after={0}, together=None)  # a finding's window closes, then the audit
@example(order=[0, 1, 2, 3, 4], closes_after=set(), together=0)  # the audit and a finding at once
@example(order=[3, 1, 0, 2, 4], closes_after=set(), together=1)
def test_each_finding_is_acted_on_by_exactly_one_mitigation_task(
    world: tuple[Workflow, Windows], order: list[int], closes_after: set[int], together: int | None
) -> None:
    wf, windows = world
    # Given a completed audit of two checks, its notification and its findings' messages
    audit = wf.seed_audit({EXPIRING: [{"deviceCertificateId": f"{n:064x}"} for n in range(2)], AGE: [{}]})
    finding_ids = audit.ids(EXPIRING) + audit.ids(AGE)
    before = set(wf.executions())

    # When they arrive in this order, windows closing between them and two at once where drawn
    position, decisions = 0, []
    while position < len(order):
        if together == position:
            pair = [_message(wf, audit, DELIVERIES[order[p]]) for p in (position, position + 1)]
            decisions += [(o["kind"], o["decision"], o["reason"]) for o in _deliver_together(wf, pair)]
            position += 2
            continue
        outcome = wf.deliver(_message(wf, audit, DELIVERIES[order[position]]))
        decisions.append((outcome["kind"], outcome["decision"], outcome["reason"]))
        if position in closes_after:
            _finish(wf, windows, before)
        position += 1
    _finish(wf, windows, before)

    # Then every finding gets action executions from exactly one started mitigation task: none acts on
    # it twice, none is left out (a task's executions are the findings its target and filter select)
    targeting = {
        finding_id: sorted(
            task_id for task_id, task in wf.mitigation_tasks().items() if finding_id in task.executions
        )
        for finding_id in finding_ids
    }
    assert {finding_id: len(tasks) for finding_id, tasks in targeting.items()} == dict.fromkeys(
        finding_ids, 1
    ), (order, closes_after, together, targeting, decisions)
