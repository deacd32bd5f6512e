"""A dry run is the real plan: every sample event, replayed through the real handler and workflow under
RemediationMode=DryRun and Enforce, plans the same tasks, and the DryRun records show what Enforce starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import Sandbox, Stack
from sandbox.executions import execution_arn
from sandbox.replay import FUNCTION, STATE_MACHINE, TIME_SCALE, _final_status, deploy_parameters
from tests.conftest import EVENTS_DIR, ROOT

TEMPLATE = ROOT / "template.yaml"
EVENT_FILES = sorted(EVENTS_DIR.parent.rglob("*.json"))
# What each replay starts from, as `make replay` does with a fresh sandbox per event.
TABLES = {"RemediationTable": ("pk", "sk"), "IdempotencyTable": ("id",)}
# Both modes put a finding into the same window (its closesAt is past, so its execution reads at once).
HANDLER_NOW = datetime.fromtimestamp(1_763_608_500, UTC)


@dataclass
class Replayed:
    outcome: dict[str, Any]
    status: str | None
    records: dict[str, dict[str, Any]]


def _empty_tables(sb: Sandbox, stack: Stack) -> None:
    dynamodb = sb.client("dynamodb")
    for logical_id, key in TABLES.items():
        name = stack.physical_ids[logical_id]
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=name, Key={part: item[part] for part in key})


def _task_records(sb: Sandbox, stack: Stack, audit_task_id: str) -> dict[str, dict[str, Any]]:
    pages = (
        sb.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=stack.physical_ids["RemediationTable"],
            KeyConditionExpression="pk = :pk AND begins_with(sk, :task)",
            ExpressionAttributeValues={":pk": {"S": f"AUDIT#{audit_task_id}"}, ":task": {"S": "TASK#"}},
        )
    )
    records = {}
    for page in pages:
        for item in page["Items"]:
            plain = {key: next(iter(value.values())) for key, value in item.items()}
            records[plain["taskId"]] = {**plain, "outcome": json.loads(plain["outcome"])}
    return records


def _replay_every_event(mode: str) -> dict[str, Replayed]:
    replayed = {}
    with Sandbox(time_scale=TIME_SCALE) as sb:
        stack = sb.deploy(TEMPLATE, parameters=deploy_parameters(mode))
        for path in EVENT_FILES:
            _empty_tables(sb, stack)
            with sb.clock.frozen(at=HANDLER_NOW):
                outcome = sb.invoke(FUNCTION, json.loads(path.read_text()))
            status, records = None, {}
            # Only the dry run's records are compared; Enforce's approve groups would wait a sandbox day.
            if outcome["execution"] is not None and mode == "DryRun":
                status = _final_status(
                    sb, execution_arn(stack.physical_ids[STATE_MACHINE], outcome["execution"]["name"]), 20.0
                )
                records = _task_records(sb, stack, outcome["execution"]["input"]["auditTaskId"])
            replayed[path.name] = Replayed(outcome, status, records)
    return replayed


@pytest.fixture(scope="module")
def replays() -> dict[str, dict[str, Replayed]]:
    return {mode: _replay_every_event(mode) for mode in ("Enforce", "DryRun")}


def _planned(outcome: dict[str, Any]) -> list[tuple[str, str, str, str, str, list[str]]]:
    return [
        (
            task["taskId"],
            task["clientRequestToken"],
            task["mode"],
            json.dumps(task["target"], sort_keys=True),
            json.dumps(task["auditCheckToActionsMapping"], sort_keys=True),
            task["checks"],
        )
        for task in outcome["mitigationTasks"]
    ]


def test_every_event_file_is_replayed() -> None:
    assert [path.name for path in EVENT_FILES] == sorted(path.name for path in EVENTS_DIR.glob("*.json"))
    assert len(EVENT_FILES) >= 14


@pytest.mark.parametrize("file", [path.name for path in EVENT_FILES])
def test_dry_run_plans_the_tasks_enforce_would_start(
    replays: dict[str, dict[str, Replayed]], file: str
) -> None:
    enforce, dry_run = replays["Enforce"][file].outcome, replays["DryRun"][file].outcome
    assert dry_run["decision"] == enforce["decision"]
    assert _planned(dry_run) == _planned(enforce)
    assert dry_run["skipped"] == enforce["skipped"]
    if enforce["execution"] is None:
        assert dry_run["execution"] is None
        return
    assert dry_run["execution"]["name"] == enforce["execution"]["name"]
    plans = {mode: dict(outcome["execution"]["input"]) for mode, outcome in (("E", enforce), ("D", dry_run))}
    assert (plans["E"].pop("remediationMode"), plans["D"].pop("remediationMode")) == ("Enforce", "DryRun")
    assert plans["D"] == plans["E"]


@pytest.mark.parametrize("file", [path.name for path in EVENT_FILES])
def test_a_dry_run_records_each_call_enforce_would_make_with_its_planned_mode(
    replays: dict[str, dict[str, Replayed]], file: str
) -> None:
    replayed, enforce = replays["DryRun"][file], replays["Enforce"][file].outcome
    if replayed.outcome["execution"] is None:
        assert replayed.records == {}
        return
    assert replayed.status == "SUCCEEDED"
    # Each call Enforce would make is recorded, with the mode Enforce plans it in
    planned = {task["taskId"]: task for task in enforce["mitigationTasks"]}
    assert set(planned) == set(replayed.records)
    for task_id, task in planned.items():
        record = replayed.records[task_id]
        assert (record["status"], record["mode"], record["outcome"]["mode"]) == (
            "DRY_RUN",
            task["mode"],
            task["mode"],
        )
        request = record["outcome"]["request"]
        assert (request["TaskId"], request["ClientRequestToken"]) == (task_id, task["clientRequestToken"])
        assert request["AuditCheckToActionsMapping"] == task["auditCheckToActionsMapping"]
