"""How `remediator rollback` drives the function: it passes the caller and the scope, invokes again with the
cursor and the running totals until none comes back, and turns refusals and counts into exit codes."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from typer.testing import CliRunner

from remediator_cli.app import app
from remediator_cli.stack import Stack

STACK = Stack("s", "eu-west-1", {"RollbackFunctionName": "s-rollback"})
CALLER = "arn:aws:sts::123456789012:assumed-role/operator/alice"


def totals(**counts: int) -> dict[str, Any]:
    names = (
        "records",
        "restored",
        "alreadyRestored",
        "refusedDrifted",
        "forced",
        "failed",
        "manual",
        "wouldRestore",
    )
    return {**dict.fromkeys(names, 0), "items": [], **counts}


@dataclass
class FakeLambda:
    """Lambda's Invoke answers in order: a payload each, FunctionError when the handler raised."""

    answers: list[tuple[Any, str | None]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(json.loads(request["Payload"]))
        payload, error = self.answers[len(self.calls) - 1]
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(payload).encode())}
        if error:
            answer["FunctionError"] = error
        return answer


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Arn": CALLER}


@dataclass
class FakeAccount:
    lambda_client: FakeLambda
    region: str = "eu-west-1"

    def client(self, service: str) -> Any:
        return {"lambda": self.lambda_client, "sts": FakeSts()}[service]

    def stack(self, name: str) -> Stack:
        return STACK


def run(fake: FakeLambda, *args: str) -> Any:
    return CliRunner().invoke(app, ["rollback", "a1", *args], obj=FakeAccount(fake))


def test_pages_are_followed_with_the_cursor_and_the_running_totals() -> None:
    cursor = {"pk": {"S": "PRESTATE#a1"}, "sk": {"S": "TASK#t#FINDING#f"}}
    fake = FakeLambda(
        [
            ({"totals": totals(records=100, restored=100), "cursor": cursor}, None),
            ({"totals": totals(records=130, restored=130), "cursor": None, "reported": True}, None),
        ]
    )
    result = run(fake, "--thing", "sensor", "--force", "--json")
    assert result.exit_code == 0, result.output
    first, second = fake.calls
    assert first == {
        "auditTaskId": "a1",
        "thing": "sensor",
        "all": False,
        "force": True,
        "dryRun": False,
        "callerArn": CALLER,
    }
    assert (second["cursor"], second["totals"]["records"]) == (cursor, 100)
    assert json.loads(result.stdout)["records"] == 130


@pytest.mark.parametrize(
    ("counts", "exit_code"),
    [
        ({"records": 2, "refusedDrifted": 1, "restored": 1}, 3),
        ({"records": 1, "manual": 1}, 3),
        ({"records": 2, "failed": 1, "refusedDrifted": 1}, 1),
        ({"records": 0}, 4),
        ({"records": 1, "forced": 1}, 0),
    ],
)
def test_the_exit_code_says_what_is_left(counts: dict[str, int], exit_code: int) -> None:
    fake = FakeLambda([({"totals": totals(**counts), "cursor": None}, None)])
    assert run(fake, "--all").exit_code == exit_code


@pytest.mark.parametrize(
    ("error_type", "exit_code", "line"),
    [
        ("RollbackRequestError", 2, "the rollback request is invalid: thing: String should match pattern\n"),
        (
            "ResourceStateError",
            1,
            "the rollback failed (ResourceStateError): the rollback request is invalid: "
            "thing: String should match pattern\n",
        ),
    ],
)
def test_a_refusal_is_one_line_and_its_exit_code(error_type: str, exit_code: int, line: str) -> None:
    failure = {
        "errorType": error_type,
        "errorMessage": "the rollback request is invalid: thing: String should match pattern",
    }
    result = run(FakeLambda([(failure, "Unhandled")]), "--all")
    assert (result.exit_code, result.stderr) == (exit_code, line)
