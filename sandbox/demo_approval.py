"""The demo's approval round trip: the policy group waits, its request reaches the reports topic, and the
operator approves it with the command line, as the sandbox's account."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.operator_command import run_operator_command


@dataclass(frozen=True)
class ApprovalRoundTrip:
    request: dict[str, Any]
    command: str
    output: str
    exit_code: int


def approval_request(sandbox: Any, queue_url: str, audit_task_id: str) -> dict[str, Any] | None:
    """The audit's approval request, if it reached the queue subscribed to the reports topic."""
    sqs = sandbox.client("sqs")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        body: dict[str, Any] = json.loads(message["Body"])
        if body.get("kind") == "approval-request" and body.get("auditTaskId") == audit_task_id:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return body
    return None


def approve_waiting_group(
    sandbox: Any,
    stack_name: str,
    queue_url: str,
    audit_task_id: str,
    wait_for: Callable[[Callable[[], Any], str], Any],
) -> ApprovalRoundTrip:
    request: dict[str, Any] = wait_for(
        lambda: approval_request(sandbox, queue_url, audit_task_id), "approval request on the reports topic"
    )
    arguments = ["approve", audit_task_id, str(request["taskId"]), "--stack", stack_name]
    ran = run_operator_command(sandbox, arguments)
    return ApprovalRoundTrip(request=request, command=ran.command, output=ran.output, exit_code=ran.exit_code)
