"""The demo's verification column: what the workflow verified after each task, per device, policy and
the account, read from the pre-state records in RemediationTable (shape: audit_remediator.resource_state)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

NOT_TOUCHED = "-"


def _records(dynamodb: Any, table: str, audit_task_id: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PRESTATE#{audit_task_id}"}},
    ):
        yield from page["Items"]


def _subjects(before: Mapping[str, Any]) -> Iterator[str]:
    """The demo's row subjects a record's finding reaches: its devices, its policy, or the account."""
    yield from before.get("things") or {}
    if policy := before.get("policy"):
        yield f"policy {policy['name']}"
    if "logging" in before:
        yield "account"


def verification_by_subject(dynamodb: Any, table: str, audit_task_id: str) -> dict[str, str]:
    """`verified` when every record reaching the subject was verified, else `not-verified` (with the
    first reason); a subject no record reaches is absent."""
    results: dict[str, str] = {}
    for item in _records(dynamodb, table, audit_task_id):
        verdict = item.get("verification", {}).get("S", "not checked")
        if verdict != "verified":
            reasons = json.loads(item.get("reasons", {}).get("S", "[]"))
            verdict = f"{verdict}: {reasons[0]}" if reasons else verdict
        for subject in _subjects(json.loads(item["before"]["S"])):
            if results.get(subject, "verified") == "verified":
                results[subject] = verdict
    return results
