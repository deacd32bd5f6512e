"""RemediationStateMachine with SecurityHubSync: a finding verified after its task becomes RESOLVED with a
note naming the task and the report, a not-verified one keeps its status and gets a note, a group awaiting
approval has its findings NOTIFIED, and NEW again with a note saying why when the approval ends with nothing
started (Security Hub fed by the emulator as Device Defender's integration feeds it); off, no Security Hub
call at all."""

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
            "keptStatus": 0,
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


APPROVAL_EXPIRY_SECONDS = 86400  # the template's default ApprovalExpirySeconds


def _cli(wf: Workflow, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--stack", wf.stack.name], obj=SandboxAccount(wf.sb))
    assert result.exit_code == 0, result.output
    return str(result.output)


def _waiting_group(wf: Workflow, name: str) -> tuple[str, list[str], dict[str, Any]]:
    """A whole-audit group of three findings (no finding ids in the state) whose mode is approve."""
    audit = wf.seed_audit({EXPIRING: [wf.device(f"{name}-{n}") for n in range(3)]})
    reasons = sorted({f.reason_code for f in wf.findings(audit, EXPIRING)})
    planned = task(
        {"auditTaskId": audit.task_id, "auditCheckToReasonCodeFilter": {EXPIRING: reasons}},
        {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]},
        mode="approve",
    )
    return audit.task_id, audit.ids(EXPIRING), planned


def _end_the_approval(wf: Workflow, how: str, audit_task_id: str, task_id: str) -> None:
    if how == "rejected":
        _cli(wf, "reject", audit_task_id, task_id, "--reason", "change freeze until Monday")
    elif how == "timed-out":
        # The workflow waits on the token once the request is out: its time-out runs on the sandbox clock.
        wf.sb.clock.wait_for_waiters(1)
        wf.sb.clock.advance(APPROVAL_EXPIRY_SECONDS + 1)
    else:
        _cli(wf, "pause")


@pytest.mark.parametrize(
    ("how", "status", "said"),
    [
        ("rejected", "APPROVAL_REJECTED", "rejected by {caller}: change freeze until Monday"),
        ("timed-out", "APPROVAL_EXPIRED", f"not approved within {APPROVAL_EXPIRY_SECONDS} s"),
        ("switch-pulled", "APPROVAL_EXPIRED", "kill switch pulled"),
    ],
)
def test_an_approval_that_ends_without_a_start_returns_its_findings_to_new_saying_why(
    deployed: Workflow, hub: SecurityHub, how: str, status: str, said: str
) -> None:
    # Given a group awaiting approval whose findings were marked NOTIFIED (with the sync on)
    audit_task_id, ids, planned = _waiting_group(deployed, f"ended-{how}")
    arn = deployed.start(audit_plan(audit_task_id, planned))
    _, notified = _statuses_once_asked(hub, ids, deployed, audit_task_id)

    # When the approval ends with nothing started: rejected with the CLI, timed out, or expired by a pull
    try:
        _end_the_approval(deployed, how, audit_task_id, planned["taskId"])
        outcome = _outcome(deployed.wait(arn))
    finally:
        if how == "switch-pulled":
            _cli(deployed, "resume")

    notes, statuses = _hub_state(hub, ids)
    assert outcome["status"] == status
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then every finding is NEW again, its note saying what happened, naming the task and that nothing started
        assert notified == {"NOTIFIED"}
        assert statuses == {"NEW"}
        caller = deployed.sb.client("sts").get_caller_identity()["Arn"]
        for note in notes.values():
            assert said.format(caller=caller) in note
            assert "nothing was started" in note
            assert planned["taskId"] in note
            assert f"remediator history {audit_task_id}" in note
        assert outcome["securityHub"]["sync"] == "done"
        assert outcome["securityHub"]["totals"]["updated"] == len(ids)
        assert outcome["securityHub"]["cursor"] is None
    else:
        # Then Security Hub is never called and nothing changes there
        assert deployed.sb.calls.of("securityhub") == []
        assert statuses == {"NEW"}
        assert set(notes.values()) == {""}
        assert "securityHub" not in outcome


def test_a_finding_the_security_team_suppressed_while_waiting_keeps_its_status_when_rejected(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a group awaiting approval, one of whose NOTIFIED findings the security team then SUPPRESSED
    audit_task_id, ids, planned = _waiting_group(deployed, "suppressed-meanwhile")
    arn = deployed.start(audit_plan(audit_task_id, planned))
    _statuses_once_asked(hub, ids, deployed, audit_task_id)
    suppressed = hub.audit_finding_for(ids[0]) or {}
    with deployed.sb.calls.pause():
        deployed.sb.client("securityhub").batch_update_findings(
            FindingIdentifiers=[{"Id": suppressed["Id"], "ProductArn": suppressed["ProductArn"]}],
            Workflow={"Status": "SUPPRESSED"},
        )

    # When the operator rejects the group
    _cli(deployed, "reject", audit_task_id, planned["taskId"])
    outcome = _outcome(deployed.wait(arn))

    # Then the team's SUPPRESSED stands (with the note), and only the findings still NOTIFIED are NEW again
    notes, _ = _hub_state(hub, ids)
    statuses = {f: (hub.audit_finding_for(f) or {}).get("Workflow", {}).get("Status") for f in ids}
    assert outcome["status"] == "APPROVAL_REJECTED"
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        assert statuses == {ids[0]: "SUPPRESSED", ids[1]: "NEW", ids[2]: "NEW"}
        assert all("rejected by" in n and "no reason given" in n for n in notes.values())
        assert outcome["securityHub"]["totals"]["updated"] == len(ids)
        assert outcome["securityHub"]["totals"]["keptStatus"] == 1
    else:
        assert deployed.sb.calls.of("securityhub") == []


def test_a_group_whose_approval_cannot_be_recorded_is_returned_to_new(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given RemediationTable refuses the approval's record, after the findings were marked NOTIFIED
    audit_task_id, ids, planned = _waiting_group(deployed, "approval-failed")
    deployed.sb.faults.add(
        "dynamodb",
        "PutItem",
        error="InternalServerError",
        times=None,
        when=lambda params: str(params.get("Item", {}).get("sk", {}).get("S", "")).startswith("APPROVAL#"),
    )
    try:
        outcome = _outcome(deployed.run(audit_plan(audit_task_id, planned)))
    finally:
        deployed.sb.faults.clear()

    notes, statuses = _hub_state(hub, ids)
    assert outcome["status"] == "APPROVAL_FAILED"
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then its findings are NEW again, the note saying the approval could not be asked
        assert statuses == {"NEW"}
        assert all("could not be requested" in n and "nothing was started" in n for n in notes.values())
        assert outcome["securityHub"]["totals"]["updated"] == len(ids)
    else:
        assert deployed.sb.calls.of("securityhub") == []
        assert set(notes.values()) == {""}


def test_a_security_hub_failure_after_a_rejection_leaves_the_rejection_as_recorded(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a group awaiting approval, its findings NOTIFIED, and Security Hub then turned off in the account
    audit_task_id, ids, planned = _waiting_group(deployed, "rejected-hub-off")
    arn = deployed.start(audit_plan(audit_task_id, planned))
    _statuses_once_asked(hub, ids, deployed, audit_task_id)
    hub.enabled = False

    # When the operator rejects the group
    _cli(deployed, "reject", audit_task_id, planned["taskId"])
    outcome = _outcome(deployed.wait(arn))

    # Then the rejection is recorded as it was, and the report says what Security Hub refused
    assert outcome["status"] == "APPROVAL_REJECTED"
    assert deployed.history(audit_task_id)[f"TASK#{planned['taskId']}"]["status"] == "APPROVAL_REJECTED"
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        assert outcome["securityHub"]["sync"] == "partial"
        assert outcome["securityHub"]["totals"]["errorCodes"] == ["InvalidAccessException"]
        assert outcome["securityHub"]["totals"]["unprocessed"] == len(ids)
    else:
        assert deployed.sb.calls.of("securityhub") == []
