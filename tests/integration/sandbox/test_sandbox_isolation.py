"""One sandbox's executions never report into the next sandbox of the same process.

moto's backends are process-wide and stacks deployed in successive sandboxes have the same names, so a status
change reported into the wrong sandbox reaches that sandbox's reports topic as if its own run had ended.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from sandbox import Sandbox, execution_events

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/runner"


def finished_execution(sb: Sandbox) -> Any:
    """An execution of a state machine named `late`, run to its end; moto's object for it."""
    sfn = sb.client("stepfunctions")
    machine = sfn.create_state_machine(name="late", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="run")["executionArn"]
    assert sb.wait_for_execution(arn).status == "SUCCEEDED"
    [execution] = [e for e in sb._executions() if e.exec_arn == arn]
    return execution


def test_an_execution_that_ends_after_its_sandbox_closed_reports_nothing_into_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an execution of a sandbox that has closed since, and a new sandbox with a same-named machine
    with Sandbox() as first:
        stale = finished_execution(first)
    reported: list[str] = []
    monkeypatch.setattr(
        execution_events, "put_status_change_event", lambda _, execution: reported.append(execution.exec_arn)
    )
    with Sandbox() as second:
        own = finished_execution(second)
        reported.clear()

        # When the closed sandbox's worker reports its end only now, and so does the new sandbox's own
        BaseExecutionWorkerCommunication(stale).terminated()
        BaseExecutionWorkerCommunication(own).terminated()

    # Then only the new sandbox's own execution is reported there
    assert reported == [own.exec_arn]
    assert own is not stale
    assert own.exec_arn == stale.exec_arn
