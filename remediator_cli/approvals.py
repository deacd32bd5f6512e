"""Approvals: groups waiting for an operator, and the decision on one (keys in RemediationTable: pk
AUDIT#<audit task id>, sk APPROVAL#<task id>; the sparse index PendingApprovals lists those waiting).

A decision is claimed first (one conditional update from PENDING, so a second decision fails), then the
workflow's task token is answered. If the token can no longer be answered the claim is undone (the call
was refused) or turned into EXPIRED (the workflow stopped waiting): the record never says more than
what happened.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, error_code, explain
from remediator_cli.history import TABLE_OUTPUT
from remediator_cli.kill_switch import caller_arn
from remediator_cli.kill_switch import read as read_switch
from remediator_cli.stack import Account, Stack

INDEX: Final = "PendingApprovals"
# The errors the workflow's approval state catches (the same names as audit_remediator.approvals).
REJECTED_ERROR: Final = "Remediation.ApprovalRejected"
# SendTaskSuccess/SendTaskFailure's answers for a token that no longer waits (Step Functions API reference).
_GONE: Final = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
Decision = Literal["approve", "reject"]


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name, {})
    return str(value.get("S") or value.get("N") or "")


def _json(item: dict[str, Any], name: str) -> Any:
    text = _text(item, name)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def summary(item: dict[str, Any]) -> dict[str, Any]:
    """An approval as the CLI shows it (never its task token)."""
    return {
        "auditTaskId": _text(item, "auditTaskId"),
        "taskId": _text(item, "taskId"),
        "checks": sorted(item.get("checks", {}).get("SS", [])),
        "status": _text(item, "status"),
        "impact": _json(item, "impact"),
        "request": _json(item, "request"),
        "requestedAt": _text(item, "requestedAt"),
        "expiresAt": _text(item, "approvalExpiresAt"),
        "decidedBy": _text(item, "decidedBy") or None,
        "decidedAt": _text(item, "decidedAt") or None,
        "decisionReason": _text(item, "decisionReason") or None,
    }


def pending(account: Account, stack: Stack) -> list[dict[str, Any]]:
    """Every approval still waiting, oldest first (one Query of the sparse index)."""
    table = stack.output(TABLE_OUTPUT)
    try:
        pages = (
            account.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=table,
                IndexName=INDEX,
                KeyConditionExpression="approvalPending = :pending",
                ExpressionAttributeValues={":pending": {"S": "PENDING"}},
            )
        )
        return [summary(item) for page in pages for item in page.get("Items", [])]
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error,
            doing=f"listing pending approvals in {table}",
            action="dynamodb:Query",
            resource=f"{table}/index/{INDEX}",
        ) from error


def _approvals_of(account: Account, table: str, audit_task_id: str) -> list[dict[str, Any]]:
    try:
        pages = (
            account.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :approval)",
                ExpressionAttributeValues={
                    ":pk": {"S": f"AUDIT#{audit_task_id}"},
                    ":approval": {"S": "APPROVAL#"},
                },
                ConsistentRead=True,
            )
        )
        return [item for page in pages for item in page.get("Items", [])]
    except (ClientError, BotoCoreError) as error:
        raise explain(error, doing=f"reading {table}", action="dynamodb:Query", resource=table) from error


def _find(account: Account, table: str, audit_task_id: str, group: str) -> dict[str, Any]:
    """The approval of GROUP: its task id, or the one check it covers."""
    items = _approvals_of(account, table, audit_task_id)
    exact = [item for item in items if _text(item, "taskId") == group]
    matches = exact or [item for item in items if group in item.get("checks", {}).get("SS", [])]
    if not matches:
        raise OperatorError(
            f"no approval for group {group} of audit {audit_task_id} (see `remediator status` for the "
            "pending ones)",
            Exit.NOT_FOUND,
        )
    waiting = [item for item in matches if _text(item, "status") == "PENDING"] or matches
    if len(waiting) > 1:
        ids = ", ".join(sorted(_text(item, "taskId") for item in waiting))
        raise OperatorError(
            f"{group} names several groups of audit {audit_task_id}: use one of {ids}", Exit.BAD_INPUT
        )
    return waiting[0]


def _already(item: dict[str, Any]) -> OperatorError:
    status = _text(item, "status").lower()
    by = _text(item, "decidedBy")
    at = _text(item, "decidedAt")
    detail = f" by {by}" if by else ""
    detail += f" at {at}" if at else ""
    return OperatorError(
        f"group {_text(item, 'taskId')} is no longer pending: {status}{detail} (a decision is made once)",
        Exit.NOT_FOUND,
    )


def decide(
    account: Account,
    stack: Stack,
    audit_task_id: str,
    group: str,
    decision: Decision,
    reason: str | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Approves or rejects one waiting group, once; returns the approval as recorded."""
    table = stack.output(TABLE_OUTPUT)
    if decision == "approve":
        switch = read_switch(account, stack)
        if switch.value != "released":
            raise OperatorError(
                f"the kill switch is {switch.value or 'unset'}: nothing may start, so nothing is approved "
                "(run `remediator resume` first)",
                Exit.NOT_ALLOWED,
            )
    item = _find(account, table, audit_task_id, group)
    if _text(item, "status") != "PENDING":
        raise _already(item)
    who = caller_arn(account)
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    status = "APPROVED" if decision == "approve" else "REJECTED"
    key = {"pk": item["pk"], "sk": item["sk"]}
    claimed = _claim(account, table, key, status, who, when, reason)
    try:
        _answer(account, claimed, decision, who, when, reason)
    except ClientError as error:
        if error_code(error) in _GONE:
            _settle(account, table, key, status, "EXPIRED", who)
            raise OperatorError(
                f"group {_text(item, 'taskId')} had expired before the answer arrived: nothing was started",
                Exit.NOT_FOUND,
            ) from error
        _settle(account, table, key, status, "PENDING", who)
        action = "states:SendTaskSuccess" if decision == "approve" else "states:SendTaskFailure"
        raise explain(error, doing=f"answering group {group}", action=action, resource="*") from error
    except BotoCoreError as error:
        _settle(account, table, key, status, "PENDING", who)
        raise explain(
            error, doing=f"answering group {group}", action="states:SendTaskSuccess", resource="*"
        ) from error
    return summary(claimed)


def _claim(
    account: Account, table: str, key: dict[str, Any], status: str, who: str, when: str, reason: str | None
) -> dict[str, Any]:
    values = {
        ":pending": {"S": "PENDING"},
        ":status": {"S": status},
        ":by": {"S": who},
        ":at": {"S": when},
        ":reason": {"S": reason or ""},
    }
    try:
        answer = account.client("dynamodb").update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #status = :status, decidedBy = :by, decidedAt = :at, decisionReason = :reason "
            "REMOVE approvalPending",
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            old: Any = error.response.get("Item")
            raise _already(dict(old) if isinstance(old, dict) else {"taskId": key["sk"]}) from error
        raise explain(
            error, doing=f"recording the decision in {table}", action="dynamodb:UpdateItem", resource=table
        ) from error
    except BotoCoreError as error:
        raise explain(
            error, doing=f"recording the decision in {table}", action="dynamodb:UpdateItem", resource=table
        ) from error
    return dict(answer["Attributes"])


def _answer(
    account: Account, item: dict[str, Any], decision: Decision, who: str, when: str, reason: str | None
) -> None:
    sfn = account.client("stepfunctions")
    token = _text(item, "taskToken")
    if decision == "approve":
        output = {"decision": "approved", "decidedBy": who, "decidedAt": when}
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    else:
        cause = {"decision": "rejected", "decidedBy": who, "decidedAt": when, "reason": reason or ""}
        sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=json.dumps(cause))


def _settle(account: Account, table: str, key: dict[str, Any], claimed: str, status: str, who: str) -> None:
    """Undoes a claim whose answer did not arrive (back to PENDING), or records that it came too late."""
    pending_again = status == "PENDING"
    update = (
        "SET #status = :status, approvalPending = :status REMOVE decidedBy, decidedAt, decisionReason"
        if pending_again
        else "SET #status = :status, decisionReason = :late"
    )
    values: dict[str, Any] = {":status": {"S": status}, ":claimed": {"S": claimed}, ":by": {"S": who}}
    if not pending_again:
        values[":late"] = {"S": f"{claimed.lower()} by {who} after the approval had expired"}
    # The refusal the operator sees is the answer's; if this fails too, the claim stays as recorded.
    with contextlib.suppress(ClientError, BotoCoreError):
        account.client("dynamodb").update_item(
            TableName=table,
            Key=key,
            UpdateExpression=update,
            ConditionExpression="#status = :claimed AND decidedBy = :by",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
