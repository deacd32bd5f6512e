"""What a replayed execution waits for when a group needs an operator's approval: replay has no operator,
so it reports the pending approvals (RemediationTable's sparse index PendingApprovals) and the command
that would answer each in a deployed stack, instead of waiting for them to expire."""

from __future__ import annotations

import json
from typing import Any, Final

INDEX: Final = "PendingApprovals"


def pending_approvals(sandbox: Any, table: str, stack_name: str) -> list[dict[str, Any]]:
    with sandbox.calls.pause():
        items = sandbox.client("dynamodb").query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="approvalPending = :pending",
            ExpressionAttributeValues={":pending": {"S": "PENDING"}},
        )["Items"]
    return [
        {
            "taskId": item["taskId"]["S"],
            "checks": sorted(item["checks"]["SS"]),
            "impact": json.loads(item["impact"]["S"]),
            "expiresAt": item["approvalExpiresAt"]["S"],
            "approve": f"remediator approve {item['auditTaskId']['S']} {item['taskId']['S']} --stack {stack_name}",
        }
        for item in items
    ]


def no_one_to_approve(waiting: list[dict[str, Any]]) -> str:
    return (
        f"{len(waiting)} group(s) await an operator's approval and replay has no one to approve them: nothing of "
        "them was started. In a deployed stack, answer each with the command in `awaitingApproval` "
        "(or `remediator reject ...`); unanswered, they expire after ApprovalExpirySeconds."
    )
