"""Exactly one mitigation task per finding, whatever the order of an audit's notification and its
per-finding messages: through the real handler, the real ASL and the emulator's task records."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox, SandboxClock
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, SeededAudit, Workflow

EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
AGE = "DEVICE_CERTIFICATE_AGE_CHECK"
WINDOW_SECONDS = 300
# One audit notification, three findings of its two checks, and one finding delivered twice.
DELIVERIES = ("audit", (EXPIRING, 0), (EXPIRING, 1), (AGE, 0), (EXPIRING, 0))
EXECUTION_TIMEOUT = 120.0


class Windows:
    """The sandbox clock, stopped one second into a finding window while messages arrive: every delivery
    reads the same instant and every window's execution waits at "Wait for finding window to close"
    until the test closes the window. Closing moves the clock past the window's end (the inbox is read
    15 s after it) and lets it run until the executions have ended; the next window then opens."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock

    def open(self) -> None:
        start = (int(self.clock.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS + 1
        self.clock.freeze(at=datetime.fromtimestamp(start, UTC))

    def close(self) -> None:
        self.clock.advance(WINDOW_SECONDS + 15)
        self.clock.resume()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Workflow, Windows]]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        workflow = Workflow(
            sandbox,
            sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "FindingWindowSeconds": WINDOW_SECONDS}),
        )
        windows = Windows(sandbox.clock)
        windows.open()
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
    windows.open()


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
