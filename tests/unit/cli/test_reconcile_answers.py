"""How `remediator reconcile` reads the sweep's answer: a refused request is a bad value (exit 2), a failed
sweep an AWS failure (exit 1), each one line naming why."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from typer.testing import CliRunner

from remediator_cli.app import app
from remediator_cli.stack import Stack

STACK = Stack("s", "eu-west-1", {"ReconcileFunctionName": "s-reconcile"})


@dataclass
class FakeLambda:
    """Lambda's Invoke answer: the payload, and FunctionError when the handler raised."""

    payload: Any
    function_error: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.function_error:
            answer["FunctionError"] = self.function_error
        return answer


@dataclass
class FakeAccount:
    lambda_client: FakeLambda
    region: str = "eu-west-1"

    def client(self, service: str) -> Any:
        assert service == "lambda"
        return self.lambda_client

    def stack(self, name: str) -> Stack:
        return STACK


@pytest.mark.parametrize(
    ("error_type", "message", "exit_code", "line"),
    [
        (
            "ReconcileRequestError",
            "days must be at most 30, the stack's HistoryRetentionDays: decisions older than that have expired",
            2,
            "days must be at most 30, the stack's HistoryRetentionDays: decisions older than that have expired\n",
        ),
        (
            "RulesError",
            "rules.yaml: the rule for LOGGING_DISABLED_CHECK names an unknown action",
            1,
            "the sweep failed (RulesError): rules.yaml: the rule for LOGGING_DISABLED_CHECK names an unknown action\n",
        ),
    ],
)
def test_a_sweep_that_raised_is_one_line_with_its_exit_code(
    error_type: str, message: str, exit_code: int, line: str
) -> None:
    fake = FakeLambda({"errorType": error_type, "errorMessage": message}, function_error="Unhandled")

    result = CliRunner().invoke(app, ["reconcile", "--days", "31"], obj=FakeAccount(fake))

    assert (result.exit_code, result.stderr) == (exit_code, line)
    assert fake.calls == [
        {"FunctionName": "s-reconcile", "InvocationType": "RequestResponse", "Payload": '{"days": 31}'}
    ]
