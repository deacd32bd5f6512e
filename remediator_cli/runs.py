"""The state machine's recent executions: one per audit (or finding window), its status and, once it
ended, the result its report gives."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import explain
from remediator_cli.stack import Account, Stack

STATE_MACHINE_OUTPUT: Final = "RemediationStateMachineArn"


def _when(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _document(text: str | None) -> dict[str, Any]:
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def recent_runs(account: Account, stack: Stack, limit: int) -> list[dict[str, Any]]:
    """The `limit` newest executions (ListExecutions returns the newest first)."""
    machine = stack.output(STATE_MACHINE_OUTPUT)
    sfn = account.client("stepfunctions")
    try:
        listed = sfn.list_executions(stateMachineArn=machine, maxResults=limit)["executions"]
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error, doing="listing executions", action="states:ListExecutions", resource=machine
        ) from error
    runs: list[dict[str, Any]] = []
    for execution in listed[:limit]:
        arn = execution["executionArn"]
        try:
            described = sfn.describe_execution(executionArn=arn)
        except (ClientError, BotoCoreError) as error:
            raise explain(
                error, doing=f"reading {arn}", action="states:DescribeExecution", resource=arn
            ) from error
        plan = _document(described.get("input"))
        report = _document(described.get("output"))
        runs.append(
            {
                "auditTaskId": plan.get("auditTaskId"),
                "kind": plan.get("kind"),
                "execution": execution["name"],
                "status": execution["status"],
                "result": report.get("result"),
                "startDate": _when(execution.get("startDate")),
                "stopDate": _when(execution.get("stopDate")),
                "executionArn": arn,
            }
        )
    return runs
