"""A group in mode approve, or over a cap, waits on a task token until an operator approves or rejects it
with the command line; unanswered it expires, and a pull of the kill switch expires it at once. Nothing
of a group starts without an approval, and a decision is made once."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from typer.testing import CliRunner, Result

from remediator_cli.app import app
from sandbox import ExecutionResult
from sandbox.device_defender import SeededAudit
from sandbox.operator_account import SandboxAccount
from sandbox.workflow import Workflow

POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
EXPIRY_SECONDS = 86400  # the template's default ApprovalExpirySeconds


def cli(wf: Workflow, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--stack", wf.stack.name], obj=SandboxAccount(wf.sb))


def allow_all_policy(wf: Workflow, things: int = 1) -> dict[str, Any]:
    name = f"AllowAll-{uuid.uuid4().hex[:8]}"
    iot = wf.sb.client("iot")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with wf.sb.calls.pause():
        iot.create_policy(policyName=name, policyDocument=json.dumps(document))
        for index in range(things):
            certificate = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
            iot.attach_policy(policyName=name, target=certificate)
            iot.create_thing(thingName=f"{name}-{index}")
            iot.attach_thing_principal(thingName=f"{name}-{index}", principal=certificate)
    return {"policyVersionIdentifier": {"policyName": name, "policyVersionId": "1"}}


def pending_of(wf: Workflow, audit: SeededAudit, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The audit's pending approvals, once the workflow has asked for them."""
    deadline = time.monotonic() + timeout
    while True:
        result = cli(wf, "status", "--json")
        assert result.exit_code == 0, result.output
        waiting = [
            a for a in json.loads(result.output)["pendingApprovals"] if a["auditTaskId"] == audit.task_id
        ]
        if waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)


def start(wf: Workflow, audit: SeededAudit) -> str:
    outcome = wf.deliver(wf.audit_notification(audit))
    return wf.execution_arn(outcome["execution"]["name"])


def finished(wf: Workflow, arn: str) -> dict[str, Any]:
    result: ExecutionResult = wf.wait(arn)
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    report: dict[str, Any] = result.output_json
    return report


def caller(wf: Workflow) -> str:
    return str(wf.sb.client("sts").get_caller_identity()["Arn"])


def default_version_document(wf: Workflow, policy: str) -> dict[str, Any]:
    with wf.sb.calls.pause():
        return dict(json.loads(wf.sb.client("iot").get_policy(policyName=policy)["policyDocument"]))


def test_an_over_cap_group_waits_for_approval_and_once_approved_starts_exactly_once(wf: Workflow) -> None:
    # Given a shared-certificate rule in mode enforce and 26 findings (its maxResources is 25)
    devices = [wf.device(f"shared-{uuid.uuid4().hex[:6]}-{n}") for n in range(26)]
    audit = wf.seed_audit({SHARED: devices})

    # When the audit is remediated
    arn = start(wf, audit)

    # Then the whole group waits for approval: no partial start, no no-action
    [waiting] = pending_of(wf, audit)
    assert waiting["checks"] == [SHARED]
    assert waiting["impact"]["reason"].startswith("over its cap: 26 affected resources > maxResources 25")
    assert waiting["request"]["TaskId"] == waiting["taskId"]
    assert wf.start_calls() == []

    # When an operator approves it
    approved = cli(wf, "approve", audit.task_id, waiting["taskId"])

    # Then it starts once, with the exact request it waited with, and the decision is recorded
    assert approved.exit_code == 0, approved.output
    report = finished(wf, arn)
    assert [call.params["taskId"] for call in wf.start_calls()] == [waiting["taskId"]]
    assert wf.start_calls()[0].params["clientRequestToken"] == waiting["request"]["ClientRequestToken"]
    [outcome] = report["tasks"]
    assert outcome["status"] == "COMPLETED"
    assert outcome["approval"]["decidedBy"] == caller(wf)
    assert outcome["approval"]["decision"] == "approved"
    record = wf.history(audit.task_id)[f"APPROVAL#{waiting['taskId']}"]
    assert (record["status"], record["decidedBy"]) == ("APPROVED", caller(wf))
    assert record["decidedAt"] == outcome["approval"]["decidedAt"]
    assert "approvalPending" not in record

    # And a second decision is refused in one line
    again = cli(wf, "approve", audit.task_id, waiting["taskId"])
    assert again.exit_code == 4
    assert again.output.strip().endswith(
        "is no longer pending: approved by "
        + caller(wf)
        + " at "
        + record["decidedAt"]
        + " (a decision is made once)"
    )
    assert len(wf.start_calls()) == 1


def test_an_approved_policy_group_gets_the_blank_default_version(wf: Workflow) -> None:
    # Given an overly permissive policy (its rule's mode is approve)
    finding = allow_all_policy(wf)
    policy = finding["policyVersionIdentifier"]["policyName"]
    audit = wf.seed_audit({POLICY: [finding]})
    arn = start(wf, audit)
    [waiting] = pending_of(wf, audit)
    assert waiting["impact"] == {"reason": "its rule's mode is approve", "findings": 1, "affectedDevices": 1}
    assert default_version_document(wf, policy)["Statement"][0]["Effect"] == "Allow"

    # When the operator approves the group by its check
    assert cli(wf, "approve", audit.task_id, POLICY).exit_code == 0

    # Then the blank policy version (it grants nothing) becomes the default
    finished(wf, arn)
    assert default_version_document(wf, policy)["Statement"] == []


def test_a_rejected_group_starts_nothing_and_the_rejection_is_recorded_and_reported(wf: Workflow) -> None:
    audit = wf.seed_audit({POLICY: [allow_all_policy(wf)]})
    arn = start(wf, audit)
    [waiting] = pending_of(wf, audit)

    rejected = cli(wf, "reject", audit.task_id, waiting["taskId"], "--reason", "customer demo tomorrow")

    assert rejected.exit_code == 0, rejected.output
    report = finished(wf, arn)
    assert wf.start_calls() == []
    [outcome] = report["tasks"]
    assert outcome["status"] == "APPROVAL_REJECTED"
    detail = json.loads(outcome["approval"]["detail"])
    assert (detail["decidedBy"], detail["reason"]) == (caller(wf), "customer demo tomorrow")
    assert report["result"] == "full-success"
    record = wf.history(audit.task_id)[f"APPROVAL#{waiting['taskId']}"]
    assert (record["status"], record["decisionReason"]) == ("REJECTED", "customer demo tomorrow")
    # And approving it afterwards is refused
    late = cli(wf, "approve", audit.task_id, waiting["taskId"])
    assert late.exit_code == 4
    assert "is no longer pending: rejected by" in late.output


def test_an_unanswered_approval_expires_starts_nothing_and_is_reported_as_expired(wf: Workflow) -> None:
    audit = wf.seed_audit({POLICY: [allow_all_policy(wf)]})
    arn = start(wf, audit)
    [waiting] = pending_of(wf, audit)

    # When the expiry passes on the sandbox clock with no answer
    # (the workflow waits on the token once the request is out: then its time-out runs on the sandbox clock)
    wf.sb.clock.wait_for_waiters(1)
    wf.sb.clock.advance(EXPIRY_SECONDS + 1)

    report = finished(wf, arn)
    assert wf.start_calls() == []
    [outcome] = report["tasks"]
    assert outcome["status"] == "APPROVAL_EXPIRED"
    assert outcome["reason"] == f"not approved within {EXPIRY_SECONDS} s; nothing was started"
    assert report["result"] == "needs-human"
    assert wf.history(audit.task_id)[f"APPROVAL#{waiting['taskId']}"]["status"] == "EXPIRED"
    assert pending_of(wf, audit, timeout=0) == []
    late = cli(wf, "approve", audit.task_id, waiting["taskId"])
    assert late.exit_code == 4
    assert "is no longer pending: expired" in late.output


def test_pulling_the_kill_switch_expires_pending_approvals_and_approve_refuses_while_pulled(
    wf: Workflow,
) -> None:
    audit = wf.seed_audit({POLICY: [allow_all_policy(wf)]})
    arn = start(wf, audit)
    [waiting] = pending_of(wf, audit)

    # When the operator pulls the switch
    try:
        assert cli(wf, "pause").exit_code == 0
        refused = cli(wf, "approve", audit.task_id, waiting["taskId"])

        # Then approve refuses, and the pending approval expires without waiting for its time-out
        assert refused.exit_code == 3
        assert refused.output.strip() == (
            "the kill switch is pulled: nothing may start, so nothing is approved (run `remediator resume` first)"
        )
        report = finished(wf, arn)
    finally:
        assert cli(wf, "resume").exit_code == 0
    assert wf.start_calls() == []
    [outcome] = report["tasks"]
    assert outcome["status"] == "APPROVAL_EXPIRED"
    assert outcome["reason"].startswith("not approved: expired at ")
    assert outcome["reason"].endswith("kill switch pulled; nothing was started")
    assert wf.history(audit.task_id)[f"APPROVAL#{waiting['taskId']}"]["status"] == "EXPIRED"


def test_a_group_whose_approval_cannot_be_recorded_starts_nothing(wf: Workflow) -> None:
    # Given RemediationTable refuses the approval function's write (property 10: no record, no start)
    audit = wf.seed_audit({POLICY: [allow_all_policy(wf)]})
    wf.sb.faults.add(
        "dynamodb",
        "PutItem",
        error="InternalServerError",
        times=None,
        when=lambda params: str(params.get("Item", {}).get("sk", {}).get("S", "")).startswith("APPROVAL#"),
    )

    report = finished(wf, start(wf, audit))

    assert wf.start_calls() == []
    [outcome] = report["tasks"]
    assert outcome["status"] == "APPROVAL_FAILED"
    assert outcome["reason"].endswith("; nothing was started")
    assert report["result"] == "needs-human"
