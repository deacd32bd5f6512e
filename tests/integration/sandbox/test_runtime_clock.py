"""One sandbox clock for Wait states, retry intervals, JSONata's `$now()`/`$millis()` and delay faults.

Every test here stops the clock, so nothing it checks depends on how fast the machine runs: a wait
ends when the test moves the clock past its end, never because real time went by.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox import ExecutionResult, Sandbox
from sandbox.replay import FUNCTION, deploy_parameters
from tests.conftest import ROOT, load_event
from tests.integration.sandbox.conftest import Workflows, jsonata

# Far from the wall clock in both directions' reach: a Wait measured on the machine's clock would
# either never end or end at once.
FROZEN_AT = datetime(2031, 3, 14, 1, 59, 0, tzinfo=UTC)


def _start(sb: Sandbox, workflows: Workflows, definition: dict[str, Any], payload: str = "{}") -> str:
    arn = workflows.create(definition)
    return str(sb.client("stepfunctions").start_execution(stateMachineArn=arn, input=payload)["executionArn"])


def _entered(sb: Sandbox, execution_arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in sb.execution_history(execution_arn)
        if "stateEnteredEventDetails" in event
    ]


def _until_entered(sb: Sandbox, execution_arn: str, state: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while state not in _entered(sb, execution_arn):
        assert time.monotonic() < deadline, f"{state} not entered: {_entered(sb, execution_arn)}"
        time.sleep(0.01)


def _finished(sb: Sandbox, execution_arn: str) -> ExecutionResult:
    return sb.wait_for_execution(execution_arn, timeout=30)


def test_wait_seconds_end_when_the_sandbox_clock_has_moved_that_far(
    sb: Sandbox, workflows: Workflows
) -> None:
    # Given a literal and a JSONata Seconds, five minutes each, and a stopped clock
    definition = jsonata(
        {
            "Literal": {"Type": "Wait", "Seconds": 300, "Next": "Computed"},
            "Computed": {"Type": "Wait", "Seconds": "{% $states.input.seconds %}", "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        }
    )
    with sb.clock.frozen():
        arn = _start(sb, workflows, definition, '{"seconds": 300}')

        # When the clock moves one second short of the first wait, then the rest of it
        sb.clock.wait_for_waiters(1)
        sb.clock.advance(299)
        assert "Computed" not in _entered(sb, arn)
        sb.clock.advance(1)

        # Then the second wait begins, and ends only when its five minutes have passed too
        _until_entered(sb, arn, "Computed")
        sb.clock.wait_for_waiters(1)
        assert "Done" not in _entered(sb, arn)
        sb.clock.advance(300)
        assert _finished(sb, arn).status == "SUCCEEDED"


def test_a_wait_until_a_timestamp_is_measured_on_the_sandbox_clock(sb: Sandbox, workflows: Workflows) -> None:
    # Given a wait until a minute after the frozen instant, and one until an hour before it
    later = (FROZEN_AT + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (FROZEN_AT - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    definition = jsonata(
        {
            "Past": {"Type": "Wait", "Timestamp": earlier, "Next": "Future"},
            "Future": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": True},
        }
    )
    with sb.clock.frozen(at=FROZEN_AT):
        arn = _start(sb, workflows, definition, f'{{"until": "{later}"}}')

        # Then the past one does not wait, and the future one waits until the clock gets there
        _until_entered(sb, arn, "Future")
        sb.clock.wait_for_waiters(1)
        sb.clock.advance(59)
        assert _entered(sb, arn) == ["Past", "Future"]
        assert sb.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
        sb.clock.advance(1)
        assert _finished(sb, arn).status == "SUCCEEDED"


def test_now_and_millis_read_the_sandbox_clock_once_per_evaluation(sb: Sandbox, workflows: Workflows) -> None:
    definition = jsonata(
        {
            "Read": {
                "Type": "Pass",
                "Output": {
                    "now": "{% $now() %}",
                    "millis": "{% $millis() %}",
                    "year": "{% $now('[Y0001]') %}",
                    "same": "{% [$millis(), $millis(), $toMillis($now())] %}",
                },
                "End": True,
            }
        }
    )
    with sb.clock.frozen(at=FROZEN_AT):
        result = workflows.run(definition)

    assert result.status == "SUCCEEDED", result.get("cause")
    millis = int(FROZEN_AT.timestamp() * 1000)
    assert result.output_json == {
        "now": "2031-03-14T01:59:00.000Z",
        "millis": millis,
        "year": "2031",
        "same": [millis, millis, millis],
    }


def test_retry_intervals_pass_on_the_sandbox_clock(sb: Sandbox, workflows: Workflows) -> None:
    # Given a state that fails, retried once after a minute
    definition = jsonata(
        {
            "Attempt": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}],
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 60, "MaxAttempts": 1}],
                "End": True,
            }
        }
    )
    with sb.clock.frozen():
        arn = _start(sb, workflows, definition)

        # Then the retry waits for the clock, and the second failure ends the execution
        sb.clock.wait_for_waiters(1)
        assert _entered(sb, arn).count("Boom") == 1
        sb.clock.advance(60)
        result = _finished(sb, arn)

    assert result.status == "FAILED"
    assert result["error"] == "Boom"
    assert _entered(sb, arn).count("Boom") == 2


def test_a_stopped_execution_stops_waiting(sb: Sandbox, workflows: Workflows) -> None:
    definition = jsonata({"Long": {"Type": "Wait", "Seconds": 86400, "End": True}})
    with sb.clock.frozen():
        arn = _start(sb, workflows, definition)
        sb.clock.wait_for_waiters(1)

        sb.client("stepfunctions").stop_execution(executionArn=arn)

        assert _finished(sb, arn).status == "ABORTED"


def test_a_delay_fault_holds_the_call_for_that_much_sandbox_time(sb: Sandbox) -> None:
    # Given a 30-second delay on ListTopics, and a stopped clock
    sb.faults.add("sns", "ListTopics", delay=30)
    sns = sb.client("sns")
    with sb.clock.frozen(), ThreadPoolExecutor(max_workers=1) as pool:
        # When the call is made, it waits on the clock
        delayed = pool.submit(sns.list_topics)
        sb.clock.wait_for_waiters(1)
        sb.clock.advance(29)
        assert not delayed.done()

        # Then it goes through once the clock has moved the whole delay
        sb.clock.advance(1)
        delayed.result(timeout=30)
        # And the next call, with no fault left, does not wait at all
        pool.submit(sns.list_topics).result(timeout=30)

    assert [c.outcome for c in sb.calls.of("sns", "ListTopics")] == ["ok", "ok"]


def test_time_does_not_go_backwards_unless_the_clock_is_set_while_stopped(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="backwards"):
        sb.clock.advance(-1)
    with sb.clock.frozen(at=FROZEN_AT) as frozen:
        assert frozen == FROZEN_AT == sb.clock.now()
        assert sb.clock.time() == FROZEN_AT.timestamp()
        sb.clock.advance(90)
        assert sb.clock.now() == FROZEN_AT + timedelta(seconds=90)
    assert not sb.clock.is_frozen
    assert sb.clock.now() >= FROZEN_AT + timedelta(seconds=90)


def test_the_handler_takes_its_finding_window_from_the_sandbox_clock(sb: Sandbox) -> None:
    # Given the product's stack, and the clock stopped one second into a window on the hour
    template = ROOT / "template.yaml"
    sb.deploy(template, parameters=deploy_parameters("Enforce"))
    on_the_hour = datetime(2031, 3, 14, 2, 0, 0, tzinfo=UTC)

    # When a finding arrives
    with sb.clock.frozen(at=on_the_hour + timedelta(seconds=1)):
        outcome = sb.invoke(FUNCTION, load_event("finding-iot-policy"))
        # (its execution waits for the window to close, on the same clock)
        sb.clock.wait_for_waiters(1)

    # Then it is queued in the window that began on that hour, not in one of the machine's clock
    window = outcome["execution"]["input"]["window"]
    assert window["closesAt"] == on_the_hour.timestamp() + window["seconds"]
