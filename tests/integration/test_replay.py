"""`python -m sandbox replay`: one JSON document on stdout, everything else on stderr, exit codes.

The stub template (tests/integration/sandbox/runtime_fixtures/replay) has the real logical ids and a
handler that decides from the message alone, so these tests are about the command, not the rules.
One test runs the real template and handler end to end through `make replay`'s own command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.replay import main
from tests.conftest import AUDIT_EVENTS_TOPIC_ARN, EVENTS_DIR, ROOT
from tests.integration.sandbox.conftest import REPLAY_TEMPLATE


def sns_event(tmp_path: Path, message: dict[str, Any]) -> Path:
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{AUDIT_EVENTS_TOPIC_ARN}:2f1c7c2e-0000-4000-8000-000000000000",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "5e1d0000-0000-4000-8000-000000000000",
                    "TopicArn": AUDIT_EVENTS_TOPIC_ARN,
                    "Subject": None,
                    "Message": json.dumps(message),
                    "Timestamp": "2026-01-01T00:00:00.000Z",
                    "MessageAttributes": {},
                },
            }
        ]
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def replay(tmp_path: Path, message: dict[str, Any], *extra: str) -> list[str]:
    return ["--template", str(REPLAY_TEMPLATE), *extra, str(sns_event(tmp_path, message))]


@pytest.mark.parametrize(("mode", "status"), [("Enforce", "SUCCEEDED"), ("DryRun", "SUCCEEDED")])
def test_prints_the_handler_result_and_the_execution_status(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], mode: str, status: str
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t1"}, "--mode", mode))

    out, err = capfd.readouterr()
    assert exit_code == 0
    document = json.loads(out)
    assert document["decision"] == "remediate"
    assert document["reason"] == mode
    assert document["execution"] == {"name": "audit-t1", "input": {"fail": False}, "status": status}
    assert "stub handler noise on stdout" in err


def test_a_failed_execution_is_reported_not_an_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t2", "fail": True}))

    out, _ = capfd.readouterr()
    assert exit_code == 0
    assert json.loads(out)["execution"]["status"] == "FAILED"


def test_an_execution_still_running_after_the_wait_is_reported_running(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t3"}, "--wait", "0"))

    out, _ = capfd.readouterr()
    assert exit_code == 0
    assert json.loads(out)["execution"]["status"] == "RUNNING"
    assert "still RUNNING" in caplog.text


def test_a_rejected_message_exits_zero_without_an_execution(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(replay(tmp_path, {"reject": True}))

    out, _ = capfd.readouterr()
    assert exit_code == 0
    assert json.loads(out)["decision"] == "rejected"
    assert json.loads(out)["execution"] is None


def test_a_raising_handler_exits_non_zero_with_the_error_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(replay(tmp_path, {"raise": "rules table unreadable"}))

    out, err = capfd.readouterr()
    assert exit_code == 1
    assert out == ""
    assert "RuntimeError: rules table unreadable" in err
    assert "app.py" in err


def test_an_unreadable_event_is_a_usage_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    exit_code = main(["--template", str(REPLAY_TEMPLATE), str(tmp_path / "absent.json")])

    out, err = capfd.readouterr()
    assert exit_code == 2
    assert out == ""
    assert "cannot read the event" in err


def test_the_real_handler_through_the_make_command_line() -> None:
    # The Makefile runs exactly `python -m sandbox replay --mode <MODE> <EVENT>` from the repository root.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "replay",
            "--mode",
            "DryRun",
            str(EVENTS_DIR / "on-demand-non-compliant.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["decision"] == "remediate"
    assert document["execution"]["input"]["remediationMode"] == "DryRun"
    assert document["execution"]["status"] == "SUCCEEDED"
    assert completed.stderr


@pytest.mark.parametrize(("argv", "exit_code"), [([], 2), (["nonsense"], 2), (["--help"], 0)])
def test_the_module_dispatches_commands(
    argv: list[str], exit_code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from sandbox.__main__ import main as sandbox_main

    assert sandbox_main(argv) == exit_code
    assert "replay" in "".join(capsys.readouterr())
