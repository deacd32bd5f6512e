"""With SecurityHubSync=Enabled, a rolled-back finding's Security Hub workflow goes back to NEW with a note
naming who rolled it back and the task; a finding refused as changed since keeps its status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from remediator_cli.rollback import RollbackOptions, roll_back
from sandbox import Sandbox
from sandbox.operator_account import SandboxAccount
from sandbox.securityhub.hub import SecurityHub
from sandbox.securityhub.integration import disable_security_hub, enable_security_hub
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow, audit_plan, task
from tests.integration.workflow.test_resource_state import only_outcome

EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


@pytest.fixture(scope="module")
def deployed() -> Iterator[Workflow]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        yield Workflow(
            sandbox, sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "SecurityHubSync": "Enabled"})
        )


@pytest.fixture
def hub(deployed: Workflow) -> Iterator[SecurityHub]:
    enabled = enable_security_hub(deployed.sb.emulator)
    yield enabled
    disable_security_hub(enabled)


def test_rolled_back_findings_are_new_again_and_a_refused_one_keeps_its_status(
    deployed: Workflow, hub: SecurityHub
) -> None:
    # Given two deactivated devices whose findings the security team had marked RESOLVED
    wf = deployed
    devices = [wf.device(f"hub-rollback-{n}") for n in range(2)]
    audit = wf.seed_audit({EXPIRING: devices})
    ids = audit.ids(EXPIRING)
    planned = task({"findingIds": ids}, {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]})
    assert only_outcome(wf.run(audit_plan(audit.task_id, planned)))["status"] == "COMPLETED"
    securityhub = wf.sb.client("securityhub")
    with wf.sb.calls.pause():
        securityhub.batch_update_findings(
            FindingIdentifiers=[
                {"Id": found["Id"], "ProductArn": found["ProductArn"]}
                for found in (hub.audit_finding_for(f) or {} for f in ids)
            ],
            Workflow={"Status": "RESOLVED"},
        )
        # and someone revoked the second device's certificate since
        wf.sb.client("iot").update_certificate(
            certificateId=devices[1]["deviceCertificateId"], newStatus="REVOKED"
        )

    # When the operator rolls the audit back
    account = SandboxAccount(wf.sb)
    result = roll_back(account, account.stack(wf.stack.name), RollbackOptions(audit.task_id, all=True))

    # Then the restored finding is NEW with a note naming the caller and its task; the refused one is unchanged
    restored, refused = (hub.audit_finding_for(f) or {} for f in ids)
    assert (result["restored"], result["refusedDrifted"], result["securityHubUpdated"]) == (1, 1, 1)
    assert restored["Workflow"]["Status"] == "NEW"
    caller = wf.sb.client("sts").get_caller_identity()["Arn"]
    assert f"rolled back by {caller}" in restored["Note"]["Text"]
    assert planned["taskId"] in restored["Note"]["Text"]
    assert refused["Workflow"]["Status"] == "RESOLVED"
