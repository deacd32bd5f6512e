"""Fixtures for the sandbox's own tests: an open sandbox, the runtime's test stack, small ASLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import ExecutionResult, Sandbox, Stack

RUNTIME_FIXTURES = Path(__file__).resolve().parent / "runtime_fixtures"
RUNTIME_TEMPLATE = RUNTIME_FIXTURES / "template.yaml"
REPLAY_TEMPLATE = RUNTIME_FIXTURES / "replay" / "template.yaml"
# Sandbox time runs 1000x faster than the wall clock in these tests.
TIME_SCALE = 0.001
_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
_ANY_ACTION_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        yield sandbox


@pytest.fixture
def echo_stack(sb: Sandbox) -> Stack:
    return sb.deploy(RUNTIME_TEMPLATE, parameters={"Mode": "Enforce"}, stack_name="runtime")


class Workflows:
    """Creates state machines from inline definitions and runs them to the end."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._role_arn: str | None = None
        self._count = 0

    def role_arn(self) -> str:
        if self._role_arn is None:
            iam = self.sandbox.client("iam")
            self._role_arn = iam.create_role(
                RoleName="workflow-tests", AssumeRolePolicyDocument=_ROLE_POLICY
            )["Role"]["Arn"]
            # These workflows test the interpreter, not permissions (the stack's roles have their own tests).
            iam.put_role_policy(
                RoleName="workflow-tests", PolicyName="interpreter-tests", PolicyDocument=_ANY_ACTION_POLICY
            )
        return self._role_arn

    def create(self, definition: dict[str, Any]) -> str:
        self._count += 1
        with self.sandbox.calls.pause():
            return str(
                self.sandbox.client("stepfunctions").create_state_machine(
                    name=f"test-{self._count}", definition=json.dumps(definition), roleArn=self.role_arn()
                )["stateMachineArn"]
            )

    def run(
        self, definition: dict[str, Any], execution_input: Any = None, *, timeout: float = 20
    ) -> ExecutionResult:
        return self.sandbox.run_execution(self.create(definition), execution_input or {}, timeout=timeout)


@pytest.fixture
def workflows(sb: Sandbox) -> Workflows:
    return Workflows(sb)


def jsonata(states: dict[str, Any], start_at: str | None = None) -> dict[str, Any]:
    """A JSONata state machine definition."""
    return {"QueryLanguage": "JSONata", "StartAt": start_at or next(iter(states)), "States": states}


def failed_events(result: ExecutionResult) -> list[dict[str, Any]]:
    return [event for event in result.history if event["type"] == "TaskFailed"]
