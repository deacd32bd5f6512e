"""Every sample event replays through the real handler, in the sandbox, with the README's decision."""

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.executions import execution_arn
from sandbox.replay import TIME_SCALE, _final_status, deploy_parameters
from sandbox.replay_approvals import let_expire, pending_approvals
from tests.conftest import EVENTS_DIR, ROOT, load_event, readme_decisions

TEMPLATE = ROOT / "template.yaml"


def test_the_readme_states_a_decision_for_every_event() -> None:
    assert sorted(readme_decisions()) == sorted(path.name for path in EVENTS_DIR.glob("*.json"))


@pytest.fixture(scope="module", params=["Enforce", "DryRun"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, Any, str]]:
    with Sandbox(time_scale=TIME_SCALE) as sb:
        stack = sb.deploy(TEMPLATE, parameters=deploy_parameters(request.param))
        yield sb, stack, request.param


@pytest.mark.parametrize("file", sorted(readme_decisions()))
def test_each_event_gets_the_documented_decision(sandbox: tuple[Sandbox, Any, str], file: str) -> None:
    sb, stack, mode = sandbox
    outcome = sb.invoke("AuditEventsFunction", load_event(file.removesuffix(".json")))
    assert outcome["decision"] == readme_decisions()[file]
    if outcome["execution"] is not None:
        assert outcome["execution"]["input"]["remediationMode"] == mode
        arn = execution_arn(stack.physical_ids["RemediationStateMachine"], outcome["execution"]["name"])

        def waiting() -> list[dict[str, Any]]:
            return pending_approvals(sb, stack.physical_ids["RemediationTable"], stack.name)

        status = _final_status(sb, arn, 20.0, stop=lambda: bool(waiting()))
        if status == "RUNNING" and waiting():
            # A group awaiting approval: no one answers here, so it expires and the run ends
            status = let_expire(sb, arn, waiting, 20.0)
        assert status == "SUCCEEDED"


def make_replay(event: str, *variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "replay", f"EVENT=events/audit_events/{event}.json", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def log_lines(text: str) -> list[str]:
    """Powertools' JSON log lines and EMF metric documents, and botocore's credential notices."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(('{"', "Traceback")) or "Found credentials" in line
    ]


@pytest.mark.parametrize(
    ("event", "decision"), [("on-demand-non-compliant", "remediate"), ("malformed-json", "rejected")]
)
def test_make_replay_prints_exactly_one_json_document(event: str, decision: str) -> None:
    completed = make_replay(event)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert log_lines(completed.stdout + completed.stderr) == []
    document = json.loads(completed.stdout)
    assert document["decision"] == decision
    assert set(document) == {
        "decision",
        "kind",
        "reason",
        "rulesVersion",
        "execution",
        "mitigationTasks",
        "skipped",
        "sandbox",
    }
    if document["execution"] is not None:
        assert document["execution"]["status"] == "SUCCEEDED"
        assert document["execution"]["result"] == "full-success"


def test_make_replay_takes_dry_run_and_shows_the_handler_logs_with_v() -> None:
    completed = make_replay("scheduled-non-compliant", "MODE=dry-run", "V=1")

    assert completed.returncode == 0, completed.stderr[-2000:]
    document = json.loads(completed.stdout)
    assert document["execution"]["input"]["remediationMode"] == "DryRun"
    assert document["execution"]["result"] == "dry-run"
    shown = log_lines(completed.stderr)
    assert any('"_aws"' in line for line in shown)
    assert any('"message":"decision"' in line for line in shown)


def test_make_replay_shows_an_over_cap_group_awaiting_approval_and_how_to_answer_it() -> None:
    completed = make_replay("over-cap")

    # The whole capped group waits for approval (it is not a no-action); replay says no one will answer and
    # how to, lets it expire, and nothing of it starts (replay exits 3, so make exits 2)
    assert completed.returncode == 2, completed.stderr[-2000:]
    document = json.loads(completed.stdout)
    assert document["decision"] == "remediate"
    execution = document["execution"]
    assert (execution["status"], execution["result"]) == ("SUCCEEDED", "needs-human")
    assert [(t["mode"], t["status"]) for t in execution["tasks"]] == [("approve", "APPROVAL_EXPIRED")]
    [waiting] = execution["awaitingApproval"]
    assert waiting["checks"] == ["DEVICE_CERTIFICATE_SHARED_CHECK"]
    assert waiting["impact"]["findings"] == 40
    assert waiting["approve"].startswith(f"remediator approve {document['sandbox']['seededAuditTaskId']} ")
    assert "replay has no one to approve them: nothing of them was started" in completed.stderr
