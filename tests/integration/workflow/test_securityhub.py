"""RemediationStateMachine with SecurityHubSync: a mitigation task that COMPLETED notes its findings in
Security Hub (fed by the emulator as Device Defender's integration feeds it); off, no Security Hub call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import ExecutionResult, Sandbox
from sandbox.securityhub.asff import IdReading
from sandbox.securityhub.hub import SecurityHub
from sandbox.securityhub.integration import disable_security_hub, enable_security_hub
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow, audit_plan, task

LOGGING = "LOGGING_DISABLED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


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


def test_a_completed_task_notes_its_findings_in_security_hub_only_when_the_sync_is_on(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given a task of three explicit findings, and Security Hub holding what Device Defender sent
    audit_task_id, ids, planned = _expiring_task(deployed)

    # When the workflow runs it to COMPLETED
    outcome = _outcome(deployed.run(audit_plan(audit_task_id, planned)))

    notes = {f: (hub.audit_finding_for(f) or {}).get("Note", {}).get("Text", "") for f in ids}
    statuses = {(hub.audit_finding_for(f) or {}).get("Workflow", {}).get("Status") for f in ids}
    assert outcome["status"] == "COMPLETED"
    if deployed.stack.parameters["SecurityHubSync"] == "Enabled":
        # Then each finding carries a note naming the task and the report; its status waits for verification
        assert all(
            planned["taskId"] in n and f"remediator history {audit_task_id}" in n for n in notes.values()
        )
        assert statuses == {"NEW"}
        assert outcome["securityHub"]["sync"] == "done"
        assert sorted(outcome["securityHub"]["updated"]) == sorted(ids)
    else:
        # Then Security Hub is never called and nothing changes there
        assert deployed.sb.calls.of("securityhub") == []
        assert set(notes.values()) == {""}
        assert "securityHub" not in outcome


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
        assert {u["errorCode"] for u in outcome["securityHub"]["unprocessed"]} == {"InvalidAccessException"}
