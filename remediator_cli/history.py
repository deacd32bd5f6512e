"""What RemediationTable holds for one audit: the decisions the function recorded, which execution
owns each check, each mitigation task's outcome and each run's summary (keys: pk AUDIT#<audit task
id>; sk DECISION#, OWNER#, TASK# and SUMMARY# records)."""

from __future__ import annotations

import json
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, explain
from remediator_cli.stack import Account, Stack

TABLE_OUTPUT: Final = "RemediationTableName"


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


def audit_history(account: Account, stack: Stack, audit_task_id: str) -> dict[str, Any]:
    table = stack.output(TABLE_OUTPUT)
    items = _items(account, table, audit_task_id)
    if not items:
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
