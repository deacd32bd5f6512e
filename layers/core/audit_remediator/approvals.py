"""Approvals: a group in mode approve waits on a Step Functions task token until an operator decides.

The token lives in RemediationTable beside the audit's history: `AUDIT#<auditTaskId>` /
`APPROVAL#<taskId>`. While the approval is pending the item carries `approvalPending`, the key of the
sparse index PendingApprovals, so the pending approvals of a stack are one Query. A decision is one
conditional update from PENDING (exactly once: a second decision, or one after expiry, fails the
condition), then the token is answered. No boto3 here: the adapters write and publish.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.models.identifiers import AuditTaskId
from audit_remediator.models.plan import MitigationTaskSpec

PENDING_INDEX: Final = "PendingApprovals"
PENDING: Final = "PENDING"
# The errors the workflow's approval state catches (SendTaskFailure's `error`, at most 256 characters).
REJECTED_ERROR: Final = "Remediation.ApprovalRejected"
EXPIRED_ERROR: Final = "Remediation.ApprovalExpired"

Status = Literal["PENDING", "APPROVED", "REJECTED", "EXPIRED"]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class ApprovalRequest(_Wire):
    """What the workflow hands the approval function for one group: its token, the group, and the
    exact StartAuditMitigationActionsTask arguments it would send once approved."""

    task_token: str = Field(min_length=1, max_length=1024)
    audit_task_id: AuditTaskId
    history_key: str = Field(min_length=1)
    execution_arn: str = Field(min_length=1)
    history_expires_at: int = Field(ge=0)
    task: MitigationTaskSpec
    request: dict[str, Any]


def approval_key(audit_task_id: str, task_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"AUDIT#{audit_task_id}"}, "sk": {"S": f"APPROVAL#{task_id}"}}


def expires_at(requested: datetime, expiry_seconds: int) -> datetime:
    return requested + timedelta(seconds=expiry_seconds)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def impact_of(request: ApprovalRequest) -> dict[str, Any]:
    need = request.task.approval
    return {
        "reason": need.reason if need else "its rule's mode is approve",
        "findings": need.findings if need and need.findings is not None else request.task.affected_resources,
        "affectedDevices": need.affected_devices if need else None,
    }


def pending_item(request: ApprovalRequest, requested: datetime, expiry_seconds: int) -> dict[str, Any]:
    """The approval's item while it waits (DynamoDB attribute values)."""
    task = request.task
    return {
        **approval_key(request.audit_task_id, task.task_id),
        "kind": {"S": "approval"},
        "status": {"S": PENDING},
        "approvalPending": {"S": PENDING},
        "auditTaskId": {"S": request.audit_task_id},
        "taskId": {"S": task.task_id},
        "checks": {"SS": sorted(set(task.checks))},
        "taskToken": {"S": request.task_token},
        "request": {"S": _json(request.request)},
        "impact": {"S": _json(impact_of(request))},
        "executionArn": {"S": request.execution_arn},
        "requestedAt": {"S": _iso(requested)},
        "approvalExpiresAt": {"S": _iso(expires_at(requested, expiry_seconds))},
        "expiresAt": {"N": str(request.history_expires_at)},
    }


def request_message(
    request: ApprovalRequest, stack_name: str, requested: datetime, expiry_seconds: int
) -> tuple[str, dict[str, Any]]:
    """The approval request published to the reports topic: its subject and its document."""
    task = request.task
    impact = impact_of(request)
    devices = impact["affectedDevices"]
    counts = f"{impact['findings']} findings" + ("" if devices is None else f", {devices} affected devices")
    approve = f"remediator approve {request.audit_task_id} {task.task_id} --stack {stack_name}"
    reject = f"remediator reject {request.audit_task_id} {task.task_id} --stack {stack_name} --reason TEXT"
    expires = _iso(expires_at(requested, expiry_seconds))
    actions = sorted({name for names in task.audit_check_to_actions_mapping.values() for name in names})
    summary = (
        f"Audit {request.audit_task_id}: group {task.task_id} ({', '.join(task.checks)}) would run "
        f"{', '.join(actions)} on {counts}; it waits for approval because {impact['reason']}. "
        f"Approve: `{approve}`. Reject: `{reject}`. Unanswered by {expires}, it expires and nothing starts."
    )
    document = {
        "kind": "approval-request",
        "summary": summary,
        "auditTaskId": request.audit_task_id,
        "taskId": task.task_id,
        "checks": task.checks,
        "actions": task.audit_check_to_actions_mapping,
        "impact": impact,
        "request": request.request,
        "requestedAt": _iso(requested),
        "expiresAt": expires,
        "approve": approve,
        "reject": reject,
        "executionArn": request.execution_arn,
    }
    subject = f"IoT audit remediation awaiting approval: audit {request.audit_task_id}"[:100]
    return subject, document


def decision_output(decision: Literal["approved"], decided_by: str, decided_at: datetime) -> dict[str, str]:
    """What SendTaskSuccess hands the workflow: recorded with the group's outcome and in the report."""
    return {"decision": decision, "decidedBy": decided_by, "decidedAt": _iso(decided_at)}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
