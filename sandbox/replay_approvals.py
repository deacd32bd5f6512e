"""What a replayed execution waits for when a group needs an operator's approval: replay has no operator,
so it reports the pending approvals (RemediationTable's sparse index PendingApprovals) and the command
that would answer each in a deployed stack, then lets them expire on the sandbox clock, so the rest of the
run ends and is reported."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Final

INDEX: Final = "PendingApprovals"
# The template's default ApprovalExpirySeconds, which replay deploys with.
EXPIRY_SECONDS: Final = 86400
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


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
        f"{len(waiting)} group(s) awaited an operator's approval and replay has no one to approve them: nothing of "
        "them was started, and replay let them expire. In a deployed stack, answer each with the command in "
        "`awaitingApproval` (or `remediator reject ...`); unanswered, they expire after ApprovalExpirySeconds."
    )


def let_expire(
    sandbox: Any, execution_arn: str, waiting: Callable[[], list[dict[str, Any]]], wait_seconds: float
) -> str:
    """Moves the sandbox clock past the approvals' expiry until the execution ends; its final status."""
    sfn = sandbox.client("stepfunctions")
    deadline = time.monotonic() + wait_seconds
    while True:
        with sandbox.calls.pause():
            status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
        if status in _TERMINAL or time.monotonic() >= deadline:
            return status
        if waiting():
            sandbox.clock.advance(EXPIRY_SECONDS + 1)
        time.sleep(0.02)
