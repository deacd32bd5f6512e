"""RemediationStateMachine with SecurityHubSync: a finding verified after its task becomes RESOLVED with a
note naming the task and the report, a not-verified one keeps its status and gets a note, a group awaiting
approval has its findings NOTIFIED (Security Hub fed by the emulator as Device Defender's integration feeds
it); off, no Security Hub call at all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from remediator_cli.app import app
from sandbox import ExecutionResult, Sandbox
from sandbox.operator_account import SandboxAccount
from sandbox.securityhub.asff import IdReading
from sandbox.securityhub.hub import SecurityHub
from sandbox.securityhub.integration import disable_security_hub, enable_security_hub
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow, audit_plan, task

LOGGING = "LOGGING_DISABLED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"


@pytest.fixture(scope="module", params=["Enabled", "Disabled"])
def deployed(request: pytest.FixtureRequest) -> Iterator[Workflow]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        stack = sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "SecurityHubSync": request.param})
        yield Workflow(sandbox, stack)


@pytest.fixture(params=list(IdReading))
def hub(deployed: Workflow, request: pytest.FixtureRequest) -> Iterator[SecurityHub]:
    deployed.sb.calls.clear()
    enabled = enable_security_hub(deployed.sb.emulator, id_reading=request.param)
    yield enabled
    disable_security_hub(enabled)


def _outcome(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    outcome: dict[str, Any]
    [outcome] = result.output_json["tasks"]
    return outcome


def _expiring_task(wf: Workflow) -> tuple[str, list[str], dict[str, Any]]:
    audit = wf.seed_audit({EXPIRING: [wf.device(f"thing-{n}") for n in range(3)]})
    ids = audit.ids(EXPIRING)
    planned = task({"findingIds": ids}, {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]})
    return audit.task_id, ids, planned


def _hub_state(hub: SecurityHub, finding_ids: list[str]) -> tuple[dict[str, str], set[str | None]]:
    found = {f: hub.audit_finding_for(f) or {} for f in finding_ids}
    notes = {f: finding.get("Note", {}).get("Text", "") for f, finding in found.items()}
    return notes, {finding.get("Workflow", {}).get("Status") for finding in found.values()}


def test_a_verified_finding_becomes_resolved_with_its_note_only_when_the_sync_is_on(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a task of three explicit findings, and Security Hub holding what Device Defender sent
    audit_task_id, ids, planned = _expiring_task(deployed)

    # When the workflow runs it to COMPLETED and verifies each certificate INACTIVE
    outcome = _outcome(deployed.run(audit_plan(audit_task_id, planned)))

    notes, statuses = _hub_state(hub, ids)
    assert outcome["status"] == "COMPLETED"
    assert outcome["verification"]["verified"] == len(ids)
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then each finding is RESOLVED, its note naming the task, the verification and the report
        assert statuses == {"RESOLVED"}
        assert all(
            planned["taskId"] in n and "verified" in n and f"remediator history {audit_task_id}" in n
            for n in notes.values()
        )
        assert outcome["securityHub"]["sync"] == "done"
        assert outcome["securityHub"]["totals"] == {
            "updated": len(ids),
            "notFound": 0,
            "unprocessed": 0,
            "errorCodes": [],
        }
        assert outcome["securityHub"]["cursor"] is None
    else:
        # Then Security Hub is never called and nothing changes there
        assert deployed.sb.calls.of("securityhub") == []
        assert set(notes.values()) == {""}
        assert statuses == {"NEW"}
        assert "securityHub" not in outcome


def test_a_finding_not_verified_keeps_its_status_and_gets_a_note(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a task that only quarantines a thing whose certificate stays ACTIVE and shared: not contained
    audit = deployed.seed_audit({SHARED: [deployed.device("HubNotContained")]})
    [finding_id] = audit.ids(SHARED)
    planned = task({"findingIds": [finding_id]}, {SHARED: [deployed.action("QuarantineThingsAction")]})

    # When the task completes and its verification says not-verified
    outcome = _outcome(deployed.run(audit_plan(audit.task_id, planned)))

    notes, statuses = _hub_state(hub, [finding_id])
    assert outcome["verification"]["notVerified"] == 1
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then its workflow status is left as it was, and the note says it is not verified, naming the task
        assert statuses == {"NEW"}
        assert "NOT verified" in notes[finding_id]
        assert planned["taskId"] in notes[finding_id]
        assert outcome["securityHub"]["totals"]["updated"] == 1
    else:
        assert deployed.sb.calls.of("securityhub") == []
        assert notes[finding_id] == ""


def test_a_completed_task_with_nothing_to_verify_notes_its_findings_and_keeps_their_status(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a task that only publishes its findings: it changes nothing, so nothing is verified
    audit = deployed.seed_audit({EXPIRING: [deployed.device(f"published-{n}") for n in range(2)]})
    ids = audit.ids(EXPIRING)
    planned = task({"findingIds": ids}, {EXPIRING: [deployed.action("PublishFindingToReportsAction")]})

    # When the workflow runs it to COMPLETED
    outcome = _outcome(deployed.run(audit_plan(audit.task_id, planned)))

    notes, statuses = _hub_state(hub, ids)
    assert outcome["status"] == "COMPLETED"
    assert "verification" not in outcome
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then each finding is noted as counted by IoT, not verified, and its status is left as it was
        assert statuses == {"NEW"}
        assert all("not yet verified" in n and planned["taskId"] in n for n in notes.values())
        assert sorted(outcome["securityHub"]["updated"]) == sorted(ids)
    else:
        assert deployed.sb.calls.of("securityhub") == []
        assert set(notes.values()) == {""}


def _statuses_once_asked(
    hub: SecurityHub, finding_ids: list[str], wf: Workflow, audit_task_id: str, timeout: float = 30.0
) -> tuple[dict[str, str], set[str | None]]:
    """Security Hub's view of the findings once the group's approval was requested (its pending item
    stored): the findings are marked before the request, so nothing races."""
    table = wf.stack.physical_ids["RemediationTable"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with wf.sb.calls.pause():
            items = wf.sb.client("dynamodb").query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :approval)",
                ExpressionAttributeValues={
                    ":pk": {"S": f"AUDIT#{audit_task_id}"},
                    ":approval": {"S": "APPROVAL#"},
                },
            )["Items"]
        if items:
            return _hub_state(hub, finding_ids)
        time.sleep(0.02)
    raise AssertionError(f"no approval was requested for audit {audit_task_id}")


def test_the_findings_of_a_group_awaiting_approval_are_notified(deployed: Workflow, hub: SecurityHub) -> None:
    # Given a whole-audit group (no finding ids in the state) whose mode is approve
    audit = deployed.seed_audit({EXPIRING: [deployed.device(f"waiting-{n}") for n in range(3)]})
    ids = audit.ids(EXPIRING)
    reasons = sorted({f.reason_code for f in deployed.findings(audit, EXPIRING)})
    planned = task(
        {"auditTaskId": audit.task_id, "auditCheckToReasonCodeFilter": {EXPIRING: reasons}},
        {EXPIRING: [deployed.action("DeactivateDeviceCertificateAction")]},
        mode="approve",
    )
    arn = deployed.start(audit_plan(audit.task_id, planned))

    # When the group waits for an operator
    notes, statuses = _statuses_once_asked(hub, ids, deployed, audit.task_id)
    rejected = CliRunner().invoke(
        app,
        ["reject", audit.task_id, planned["taskId"], "--stack", deployed.stack.name],
        obj=SandboxAccount(deployed.sb),
    )
    assert rejected.exit_code == 0, rejected.output
    outcome = _outcome(deployed.wait(arn))

    # Then, with the sync on, every finding of the group was NOTIFIED, its note naming the task and the report
    assert outcome["status"] == "APPROVAL_REJECTED"
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        assert statuses == {"NOTIFIED"}
        assert all("approval" in n and planned["taskId"] in n for n in notes.values())
        assert all(f"remediator history {audit.task_id}" in n for n in notes.values())
    else:
        assert deployed.sb.calls.of("securityhub") == []
        assert statuses == {"NEW"}


def test_a_security_hub_failure_leaves_the_task_outcome_as_recorded(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given Security Hub turned off in the account after the stack was set up
    audit_task_id, ids, planned = _expiring_task(deployed)
    hub.enabled = False

    # When the task completes
    outcome = _outcome(deployed.run(audit_plan(audit_task_id, planned)))

    # Then the remediation stands and the report says what Security Hub refused
    assert outcome["status"] == "COMPLETED"
    assert outcome["statistics"][EXPIRING]["succeeded"] == len(ids)
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        assert outcome["securityHub"]["sync"] == "partial"
        assert outcome["securityHub"]["totals"]["errorCodes"] == ["InvalidAccessException"]
        assert outcome["securityHub"]["totals"]["unprocessed"] == len(ids)
