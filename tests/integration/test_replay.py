"""`python -m sandbox replay`: one JSON document on stdout, everything else on stderr, exit codes.

The stub template (tests/integration/sandbox/runtime_fixtures/replay) has the real logical ids and a
handler that decides from the message alone (its workflow outputs the message's `report`), so these
tests are about the command, not the rules. The last tests run the real template and handler end to
end through `make replay`'s own command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from sandbox.replay import main, remediation_mode
from tests.conftest import AUDIT_EVENTS_TOPIC_ARN, EVENTS_DIR, ROOT
from tests.integration.sandbox.conftest import REPLAY_TEMPLATE
from tests.integration.test_undeployed_action import MISSING, template_without


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
    return [
        "--template",
        str(REPLAY_TEMPLATE),
        "--log-file",
        str(tmp_path / "replay.log"),
        *extra,
        str(sns_event(tmp_path, message)),
    ]


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
    assert document["execution"] == {
        "name": "audit-t1",
        "input": {"fail": False},
        "status": status,
        "result": "full-success",
        "tasks": [],
    }
    assert "stub handler noise on stdout" not in out + err
    assert "stub handler noise on stdout" in (tmp_path / "replay.log").read_text()


def test_verbose_sends_the_handler_output_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t1"}, "-v"))

    out, err = capfd.readouterr()
    assert exit_code == 0
    assert json.loads(out)["decision"] == "remediate"
    assert "stub handler noise on stdout" in err


@pytest.mark.parametrize("spelling", ["DryRun", "dry-run", "dryrun", "DRY_RUN"])
def test_a_mode_is_accepted_in_the_templates_spelling_or_as_dry_run(spelling: str) -> None:
    assert remediation_mode(spelling, REPLAY_TEMPLATE) == "DryRun"
    assert remediation_mode("enforce", REPLAY_TEMPLATE) == "Enforce"


def test_an_unknown_mode_is_refused_with_the_spellings_it_takes(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(replay(tmp_path, {"taskId": "t1"}, "--mode", "fix-it"))

    assert exited.value.code == 2
    assert "unknown mode 'fix-it': use DryRun or Enforce" in capfd.readouterr().err


REJECTED_TASK = {
    "taskId": "t4-a",
    "mode": "enforce",
    "checks": ["LOGGING_DISABLED_CHECK"],
    "status": "REJECTED",
    "reason": "IoT rejected the request; it is not retried",
    "error": "Iot.InvalidRequestException",
    "cause": "Audit task t4 does not exist.",
}


@pytest.mark.parametrize("result", ["partial", "failed"])
def test_a_report_that_is_not_a_success_exits_three_with_each_task_and_its_iot_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], result: str
) -> None:
    report = {"result": result, "tasks": [REJECTED_TASK], "totals": {"tasks": 1}, "capped": []}

    exit_code = main(replay(tmp_path, {"taskId": "t4", "report": report}))

    out, err = capfd.readouterr()
    assert exit_code == 3
    execution = json.loads(out)["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert execution["result"] == result
    assert execution["tasks"] == [REJECTED_TASK]
    assert "did not remediate fully" in err


def test_a_failed_execution_exits_three_with_its_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t2", "fail": True}))

    out, _ = capfd.readouterr()
    assert exit_code == 3
    execution = json.loads(out)["execution"]
    assert (execution["status"], execution["result"], execution["error"]) == ("FAILED", None, "Stub.Failed")


def test_an_execution_still_running_after_the_wait_is_reported_running(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    exit_code = main(replay(tmp_path, {"taskId": "t3"}, "--wait", "0"))

    out, _ = capfd.readouterr()
    assert exit_code == 3
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
    assert err.splitlines()[-1] == "replay: AuditEventsFunction raised RuntimeError: rules table unreadable"
    assert "app.py" not in err

    # With -v, the handler's stack trace comes first
    assert main(replay(tmp_path, {"raise": "rules table unreadable"}, "-v")) == 1
    out, err = capfd.readouterr()
    assert "app.py" in err
    assert err.splitlines()[-1] == "replay: AuditEventsFunction raised RuntimeError: rules table unreadable"


def test_an_unreadable_event_is_a_usage_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    exit_code = main(["--template", str(REPLAY_TEMPLATE), str(tmp_path / "absent.json")])

    out, err = capfd.readouterr()
    assert exit_code == 2
    assert out == ""
    assert "cannot read the event" in err


def replay_real(event: str, *options: str) -> subprocess.CompletedProcess[str]:
    # The Makefile runs exactly `python -m sandbox replay --mode <MODE> <EVENT>` from the repository root.
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "replay", *options, str(EVENTS_DIR / event)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_real_handler_through_the_make_command_line() -> None:
    completed = replay_real("on-demand-non-compliant.json", "--mode", "DryRun")

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["decision"] == "remediate"
    assert document["execution"]["input"]["remediationMode"] == "DryRun"
    assert document["execution"]["status"] == "SUCCEEDED"
    assert {task["status"] for task in document["execution"]["tasks"]} == {"DRY_RUN"}
    # The handler's logs and metrics went to the log file; nothing else had anything to say
    assert completed.stderr == ""


def test_an_enforced_replay_remediates_the_seeded_audit() -> None:
    completed = replay_real("scheduled-non-compliant.json", "--mode", "Enforce")

    # The policy group awaits an approval no one gives in a replay (exit 3, and it says how to give it)
    assert completed.returncode == 3, completed.stderr
    assert "replay has no one to approve them" in completed.stderr
    document = json.loads(completed.stdout)
    execution = document["execution"]
    assert execution["result"] == "partial"
    assert [w["checks"] for w in execution["awaitingApproval"]] == [["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"]]
    waited = next(task for task in execution["tasks"] if task["mode"] == "approve")
    assert waited["status"] == "APPROVAL_EXPIRED"
    enforced = next(task for task in execution["tasks"] if task["mode"] == "enforce")
    assert enforced["status"] == "COMPLETED"
    assert {check: counts["succeeded"] for check, counts in enforced["statistics"].items()} == {
        "DEVICE_CERTIFICATE_SHARED_CHECK": 1,
        "LOGGING_DISABLED_CHECK": 1,
    }
    audit_task_id = document["execution"]["input"]["auditTaskId"]
    assert document["sandbox"]["seededAuditTaskId"] == audit_task_id
    assert document["sandbox"]["seededFindings"] == {
        "DEVICE_CERTIFICATE_SHARED_CHECK": 1,
        "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": 1,
        "LOGGING_DISABLED_CHECK": 1,
    }
    assert audit_task_id in document["sandbox"]["note"]


def test_an_unseeded_replay_shows_the_tasks_iot_rejected_and_exits_three() -> None:
    completed = replay_real("scheduled-non-compliant.json", "--mode", "Enforce", "--no-seed")

    assert completed.returncode == 3, completed.stderr[-2000:]
    document = json.loads(completed.stdout)
    execution = document["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert execution["result"] != "full-success"
    rejected = next(task for task in execution["tasks"] if task["mode"] == "enforce")
    assert rejected["status"] == "REJECTED"
    assert rejected["error"] == "Iot.InvalidRequestException"
    assert "does not exist" in rejected["cause"]
    assert document["sandbox"]["seededAuditTaskId"] is None


@pytest.mark.parametrize(("argv", "exit_code"), [([], 2), (["nonsense"], 2), (["--help"], 0)])
def test_the_module_dispatches_commands(
    argv: list[str], exit_code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from sandbox.__main__ import main as sandbox_main

    assert sandbox_main(argv) == exit_code
    assert "replay" in "".join(capsys.readouterr())


def test_a_rules_error_ends_with_one_clear_line_and_no_stack_trace(tmp_path: Path) -> None:
    template = template_without(tmp_path, MISSING)

    completed = replay_real("scheduled-non-compliant.json", "--template", str(template))

    assert completed.returncode == 1
    assert completed.stdout == ""
    last = completed.stderr.splitlines()[-1]
    assert last.startswith("replay: AuditEventsFunction raised RulesError: ")
    assert f"iot-audit-remediator-{MISSING} is not defined by the stack" in last
    assert "Traceback" not in completed.stderr
    assert 'File "' not in completed.stderr
    assert not [line for line in completed.stderr.splitlines() if line.startswith('{"')]
    assert "Found credentials" not in completed.stderr

    verbose = replay_real("scheduled-non-compliant.json", "-v", "--template", str(template))
    assert verbose.returncode == 1
    assert 'File "' in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == last


def template_with_a_narrower_role(tmp_path: Path) -> Path:
    """template.yaml whose function may no longer start the workflow, as a careless edit would leave it."""
    template: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
    role = template["Resources"]["AuditEventsFunctionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    role["Policies"][0]["PolicyDocument"]["Statement"] = [
        s for s in statements if s.get("Sid") != "StartRemediation"
    ]
    for local in ("functions", "layers", "statemachine"):
        (tmp_path / local).symlink_to(ROOT / local)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return path


def test_a_call_iam_refuses_fails_the_replay_and_is_named(tmp_path: Path) -> None:
    completed = replay_real(
        "scheduled-non-compliant.json",
        "--mode",
        "Enforce",
        "--template",
        str(template_with_a_narrower_role(tmp_path)),
    )

    assert completed.returncode != 0
    assert "AuditEventsFunctionRole was denied states:StartExecution" in completed.stderr
    assert "because no identity-based policy allows the states:StartExecution action" in completed.stderr
