"""Step Functions executions in the sandbox: moto's records of them, waiting for their end, and what
a test gets back (`ExecutionResult`)."""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

LOG = logging.getLogger(__name__)

TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution `name` (StartExecution's executionArn). The sandbox states
    it apart from the product's own copy, so the two can disagree and a test can see it."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


class ExecutionResult(dict[str, Any]):
    """DescribeExecution's answer, with `history` (GetExecutionHistory's events, all pages)."""

    @property
    def status(self) -> str:
        return str(self["status"])

    @property
    def output_json(self) -> Any:
        return json.loads(self["output"]) if self.get("output") else None

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.get("_history", []))

    @property
    def state_transitions(self) -> int:
        """Entered states, the unit Step Functions bills STANDARD workflows by (close enough)."""
        return sum(1 for event in self.history if event["type"].endswith("StateEntered"))


def moto_executions(account_id: str, region: str) -> list[Any]:
    """moto's execution objects of every state machine of the account and Region."""
    # With execute_state_machine, moto serves Step Functions from the interpreter's backend.
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account_id][region]
    return [execution for machine in backend.state_machines for execution in machine.executions]


def is_running(execution: Any) -> bool:
    """moto lists an execution before it starts it, with no status yet (stepfunctions/parser/models.py,
    start_execution): count it as running, as DescribeExecution would."""
    return execution.exec_status is None or execution.exec_status.value == "RUNNING"


def _worker_ready(execution: Any) -> bool:
    """moto creates an execution's worker, then its environment on the worker's own thread
    (stepfunctions/parser/backend/execution_worker.py); stopping it before that has nothing to stop."""
    worker = getattr(execution, "exec_worker", None)
    return worker is None or getattr(worker, "env", None) is not None


def stop_executions(executions: list[Any]) -> None:
    """Aborts those still running, and waits a little for them to stop: a task still in flight when
    moto's mock ends would send its call to the real endpoint. One started a moment ago is stopped once its
    worker is ready."""
    now = datetime.datetime.now(datetime.UTC)
    deadline = time.monotonic() + 5
    running = [execution for execution in executions if is_running(execution)]
    for execution in running:
        while not _worker_ready(execution) and is_running(execution) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not is_running(execution):
            continue
        if not _worker_ready(execution):
            LOG.warning(
                "sandbox closing: execution %s never got going; left to end with the mock", execution.exec_arn
            )
            continue
        LOG.warning("sandbox closing: aborting running execution %s", execution.exec_arn)
        execution.stop(stop_date=now, error="Sandbox.Closed", cause="the sandbox was closed")
    while any(is_running(execution) for execution in running) and time.monotonic() < deadline:
        time.sleep(0.01)


def wait_for_end(
    sfn: Any, execution_arn: str, *, timeout: float, between_polls: Callable[[], None]
) -> ExecutionResult:
    """Polls DescribeExecution (real seconds) until the execution ends; adds its history."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout} s")
        between_polls()
        time.sleep(0.01)
    described.pop("ResponseMetadata", None)
    result = ExecutionResult(described)
    result["_history"] = execution_history(sfn, execution_arn)
    return result


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory, every page, oldest first."""
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events
