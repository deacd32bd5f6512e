"""What RemediationTable holds for one audit: the decisions the function recorded, which execution
owns each check, each mitigation task's outcome and each run's summary (keys: pk AUDIT#<audit task
id>; sk DECISION#, OWNER#, TASK# and SUMMARY# records), and the lineage of each finding.

Lineage is a view over the pre-state records (pk PRESTATE#<audit task id>, one per task and finding;
their shape: audit_remediator.resource_state), never a second copy: each already holds the finding, its
check and resource, the task, IoT's execution status, the verification with what was observed, and what
a rollback wrote onto it. One audit's findings are read from its partition; one resource across audits
from the ByResource index (newest first). Both are paged: `limit` records and a token for the next page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, explain
from remediator_cli.stack import Account, Stack

TABLE_OUTPUT: Final = "RemediationTableName"
RESOURCE_INDEX: Final = "ByResource"
ROLLBACK_FIELDS: Final = ("rolledBackAt", "rolledBackBy", "rollbackResult", "rollbackObserved")


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name, {})
    return str(value.get("S") or value.get("N") or "")


def _json(item: dict[str, Any], name: str) -> Any:
    text = _text(item, name)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _items(account: Account, table: str, audit_task_id: str) -> list[dict[str, Any]]:
    try:
        return [
            item
            for page in account.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"AUDIT#{audit_task_id}"}},
            )
            for item in page.get("Items", [])
        ]
    except (ClientError, BotoCoreError) as error:
        raise explain(error, doing=f"reading {table}", action="dynamodb:Query", resource=table) from error


def audit_history(
    account: Account, stack: Stack, audit_task_id: str, limit: int = 50, after: str | None = None
) -> dict[str, Any]:
    table = stack.output(TABLE_OUTPUT)
    items = _items(account, table, audit_task_id)
    findings, findings_next = audit_findings(account, table, audit_task_id, limit, after)
    if not items and not findings:
        raise OperatorError(
            f"nothing recorded for audit {audit_task_id} in {table} (check the audit task id; "
            "records expire after the stack's HistoryRetentionDays)",
            Exit.NOT_FOUND,
        )
    history: dict[str, Any] = {
        "auditTaskId": audit_task_id,
        "decisions": [],
        "owners": {},
        "tasks": [],
        "summaries": [],
        "findings": findings,
        "findingsNext": findings_next,
    }
    for item in items:
        kind, _, key = _text(item, "sk").partition("#")
        if kind == "DECISION":
            history["decisions"].append(
                {"key": key, "recordedAt": _text(item, "recordedAt"), **(_json(item, "decision") or {})}
            )
        elif kind == "OWNER":
            history["owners"][key.partition("#")[2]] = _text(item, "ownedBy")
        elif kind == "TASK":
            outcome = _json(item, "outcome") or {}
            history["tasks"].append(
                {
                    "taskId": _text(item, "taskId"),
                    "mode": _text(item, "mode"),
                    "status": _text(item, "status"),
                    "checks": outcome.get("checks", []) if isinstance(outcome, dict) else [],
                    "statistics": outcome.get("statistics", {}) if isinstance(outcome, dict) else {},
                    "failures": outcome.get("failures", []) if isinstance(outcome, dict) else [],
                    "executionArn": _text(item, "executionArn"),
                    "recordedAt": _text(item, "recordedAt"),
                }
            )
        elif kind == "SUMMARY":
            report = _json(item, "report") or {}
            history["summaries"].append(
                {
                    "result": _text(item, "result"),
                    "executionArn": _text(item, "executionArn"),
                    "recordedAt": _text(item, "recordedAt"),
                    "totals": report.get("totals", {}) if isinstance(report, dict) else {},
                    "capped": report.get("capped", []) if isinstance(report, dict) else [],
                }
            )
    return history


def _token(last: dict[str, Any] | None) -> str | None:
    if not last:
        return None
    return base64.urlsafe_b64encode(json.dumps(last, sort_keys=True).encode()).decode()


def _start_key(token: str | None) -> dict[str, Any] | None:
    if token is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        key = None
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise OperatorError(
            "--after takes the `next` token a previous page printed, unchanged; this one is not such a token",
            Exit.BAD_INPUT,
        )
    return key


def finding_lineage(item: dict[str, Any]) -> dict[str, Any]:
    """One finding's lineage from its pre-state record: the observed state and reasons only when it was
    not verified, the rollback only when there was one."""
    verification = _text(item, "verification") or None
    lineage: dict[str, Any] = {
        "findingId": _text(item, "findingId"),
        "check": _text(item, "check"),
        "resource": _text(item, "byResource"),
        "auditTaskId": _text(item, "auditTaskId"),
        "taskId": _text(item, "taskId"),
        "foundAt": _text(item, "findingTime") or None,
        "recordedAt": _text(item, "recordedAt"),
        "iotStatus": _text(item, "iotStatus") or None,
        "verification": verification,
        "verifiedAt": _text(item, "verifiedAt") or None,
        "before": _json(item, "before"),
    }
    if verification == "not-verified":
        lineage["observed"] = _json(item, "observed")
        lineage["reasons"] = _json(item, "reasons") or []
    rollback = {name: _json(item, name) for name in ROLLBACK_FIELDS if name in item}
    if rollback:
        lineage["rollback"] = rollback
    return lineage


def _page(
    account: Account, table: str, doing: str, resource: str, **query: Any
) -> tuple[list[dict[str, Any]], str | None]:
    try:
        result = account.client("dynamodb").query(TableName=table, **query)
    except (ClientError, BotoCoreError) as error:
        raise explain(error, doing=doing, action="dynamodb:Query", resource=resource) from error
    return [finding_lineage(item) for item in result.get("Items", [])], _token(result.get("LastEvaluatedKey"))


def audit_findings(
    account: Account, table: str, audit_task_id: str, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an audit's findings, task by task."""
    start = _start_key(after)
    return _page(
        account,
        table,
        f"reading the findings of audit {audit_task_id} in {table}",
        table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PRESTATE#{audit_task_id}"}},
        Limit=limit,
        **({"ExclusiveStartKey": start} if start else {}),
    )


def resource_history(
    account: Account, stack: Stack, resource: str, limit: int, after: str | None
) -> dict[str, Any]:
    """One resource across audits, newest first."""
    table = stack.output(TABLE_OUTPUT)
    start = _start_key(after)
    records, token = _page(
        account,
        table,
        f"reading the history of {resource} in {table}",
        f"{table}/index/{RESOURCE_INDEX}",
        IndexName=RESOURCE_INDEX,
        KeyConditionExpression="byResource = :resource",
        ExpressionAttributeValues={":resource": {"S": resource}},
        ScanIndexForward=False,
        Limit=limit,
        **({"ExclusiveStartKey": start} if start else {}),
    )
    if not records and after is None:
        raise OperatorError(
            f"nothing recorded for resource {resource} in {table} (give it as `remediator history AUDIT_TASK_ID` "
            "shows it, e.g. deviceCertificateId=ID or policyVersionIdentifier.policyName=NAME; records expire "
            "after the stack's HistoryRetentionDays)",
            Exit.NOT_FOUND,
        )
    return {"resource": resource, "records": records, "next": token}
