"""Time-boxed quarantine: a thing a rule with quarantineDays quarantined is re-checked when its timer is due
(QuarantineExpiryFunction, on the sandbox clock): released from the quarantine group when a later audit no
longer reports its finding, otherwise kept, extended and escalated; nothing is released while the kill
switch is pulled, and a second sweep the same day does nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from audit_remediator.rules import load_rules
from sandbox.workflow import Workflow, audit_plan, task

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
DAY = 86_400


def quarantine_group(wf: Workflow) -> str:
    return str(wf.stack.physical_ids["QuarantineThingGroup"])


def groups_of(wf: Workflow, thing: str) -> list[str]:
    with wf.sb.calls.pause():
        groups = wf.sb.client("iot").list_thing_groups_for_thing(thingName=thing)["thingGroups"]
    return sorted(group["groupName"] for group in groups)


def quarantined(wf: Workflow, thing: str) -> dict[str, str]:
    """A device in a group of its own, quarantined by a task of the shared-certificate rule (quarantine, then
    deactivate the certificate), verified: the rule's quarantineDays start counting."""
    device = wf.device(thing)
    with wf.sb.calls.pause():
        wf.sb.client("iot").create_thing_group(thingGroupName=f"{thing}-fleet")
        wf.sb.client("iot").add_thing_to_thing_group(thingGroupName=f"{thing}-fleet", thingName=thing)
    audit = wf.seed_audit({SHARED: [device]})
    actions = [wf.action("QuarantineThingsAction"), wf.action("DeactivateDeviceCertificateAction")]
    result = wf.run(audit_plan(audit.task_id, task({"findingIds": audit.ids(SHARED)}, {SHARED: actions})))
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    [outcome] = result.output_json["tasks"]
    assert outcome["verification"]["verified"] == 1, outcome
    assert groups_of(wf, thing) == sorted([f"{thing}-fleet", quarantine_group(wf)])
    return device


def timers(wf: Workflow, thing: str) -> list[dict[str, Any]]:
    """Every timer item of the thing, whatever its day (a test-side scan; the sweep queries one day)."""
    with wf.sb.calls.pause():
        pages = (
            wf.sb.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=wf.stack.physical_ids["RemediationTable"],
                FilterExpression="kind = :kind AND thingName = :thing",
                ExpressionAttributeValues={":kind": {"S": "quarantine-timer"}, ":thing": {"S": thing}},
            )
        )
        items = [item for page in pages for item in page["Items"]]
    return sorted(
        ({key: next(iter(value.values())) for key, value in item.items()} for item in items),
        key=lambda item: str(item["pk"]),
    )


def scheduled_event(wf: Workflow) -> Any:
    """The input the stack's schedule sends the sweep (its EventBridge rule's target)."""
    function = wf.stack.physical_ids["QuarantineExpiryFunction"]
    with wf.sb.calls.pause():
        events = wf.sb.client("events")
        arn = wf.sb.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        [rule] = events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]
        [target] = events.list_targets_by_rule(Rule=rule)["Targets"]
        assert events.describe_rule(Name=rule)["ScheduleExpression"] == "rate(1 day)"
    return json.loads(target["Input"])


def sweep(wf: Workflow) -> dict[str, Any]:
    report: dict[str, Any] = wf.sb.invoke("QuarantineExpiryFunction", scheduled_event(wf))
    return report


def removals(wf: Workflow, thing: str) -> list[Any]:
    return [c for c in wf.sb.calls.of("iot", "RemoveThingFromThingGroup") if c.params["thingName"] == thing]


def after_quarantine_days(wf: Workflow) -> None:
    days = load_rules().quarantine_days(SHARED)
    assert days is not None
    wf.sb.clock.advance(days * DAY)


def today(wf: Workflow) -> date:
    return wf.sb.clock.now().astimezone(UTC).date()


@pytest.fixture
def kill_switch(wf: Workflow) -> Iterator[Callable[[str], None]]:
    """Sets the stack's kill switch; released again after the test."""

    def set_to(value: str) -> None:
        with wf.sb.calls.pause():
            wf.sb.client("ssm").put_parameter(
                Name=str(wf.stack.outputs["KillSwitchParameterName"]), Value=value, Overwrite=True
            )

    yield set_to
    set_to("released")


def test_a_quarantine_expires_and_the_device_is_released_once(wf: Workflow) -> None:
    # Given a device quarantined for quarantineDays, and an audit after that no longer reports its finding
    quarantined(wf, "ExpiringSensor")
    [timer] = timers(wf, "ExpiringSensor")
    assert timer["status"] == "PENDING"
    after_quarantine_days(wf)
    wf.seed_audit({SHARED: [wf.device("OtherSharedSensor")]})

    # When the scheduled sweep runs, and again the same day
    first = sweep(wf)
    second = sweep(wf)

    # Then the thing left the quarantine group, and only that group, recorded and reported
    assert groups_of(wf, "ExpiringSensor") == ["ExpiringSensor-fleet"]
    [released] = [entry for entry in first["released"] if entry["thing"] == "ExpiringSensor"]
    assert released["group"] == quarantine_group(wf)
    [record] = timers(wf, "ExpiringSensor")
    assert record["status"] == "RELEASED"
    assert json.loads(str(record["outcome"]))["rechecks"][0]["verdict"] == "gone"
    reports = [r for r in wf.reports(at_least=1) if r.get("kind") == "quarantine-expiry"]
    assert any(e["thing"] == "ExpiringSensor" for r in reports for e in r["released"])
    # ... and the second sweep found nothing due: one release
    assert all(entry["thing"] != "ExpiringSensor" for entry in second["released"] + second["extended"])
    assert len(removals(wf, "ExpiringSensor")) == 1
    # (the sweep's calls were all allowed to its role)
    role = wf.stack.physical_ids["QuarantineExpiryFunctionRole"]
    assert not [d for d in wf.sb.iam.denials if role in (d.caller or "")]


def test_a_finding_still_reported_extends_and_escalates_the_quarantine(wf: Workflow) -> None:
    # Given a quarantined device whose certificate a later audit still reports shared
    device = quarantined(wf, "StubbornSensor")
    after_quarantine_days(wf)
    wf.seed_audit({SHARED: [device]})

    # When the sweep runs
    report = sweep(wf)

    # Then the thing stays quarantined; the report escalates it, and a new timer runs another quarantineDays
    assert quarantine_group(wf) in groups_of(wf, "StubbornSensor")
    assert not removals(wf, "StubbornSensor")
    [extended] = [entry for entry in report["extended"] if entry["thing"] == "StubbornSensor"]
    assert extended["escalated"] is True
    assert extended["extensions"] == 1
    assert "still reports" in extended["reason"]
    assert report["counts"]["escalated"] >= 1
    decided, follow_up = timers(wf, "StubbornSensor")
    assert decided["status"] == "EXTENDED"
    assert (follow_up["status"], follow_up["extensions"]) == ("PENDING", "1")
    next_day = today(wf) + timedelta(days=int(follow_up["days"]))
    assert follow_up["pk"] == f"QUARANTINE#{next_day.isoformat()}" == f"QUARANTINE#{extended['nextDueDay']}"


def test_nothing_is_released_while_the_kill_switch_is_pulled(
    wf: Workflow, kill_switch: Callable[[str], None]
) -> None:
    # Given a quarantine that has expired and whose finding is gone, and the kill switch pulled
    quarantined(wf, "HeldSensor")
    kill_switch("pulled")
    after_quarantine_days(wf)
    wf.seed_audit({SHARED: [wf.device("YetAnotherSharedSensor")]})

    # When the sweep runs
    report = sweep(wf)

    # Then nothing is released; the timer moved to tomorrow and the report says why
    assert quarantine_group(wf) in groups_of(wf, "HeldSensor")
    assert not wf.sb.calls.of("iot", "RemoveThingFromThingGroup")
    assert "HeldSensor" in report["held"]
    assert "pulled" in report["killSwitch"]
    held, waiting = timers(wf, "HeldSensor")
    assert held["status"] == "HELD"
    assert waiting["status"] == "PENDING"
    assert waiting["pk"] == f"QUARANTINE#{(today(wf) + timedelta(days=1)).isoformat()}"


def test_the_timer_counts_from_the_verification_on_the_sandbox_clock(wf: Workflow) -> None:
    # Given the sandbox clock at a known instant
    start = datetime(2027, 3, 1, 12, tzinfo=UTC)
    wf.sb.clock.advance(max(0.0, (start - wf.sb.clock.now()).total_seconds()))

    # When a device is quarantined
    quarantined(wf, "PunctualSensor")

    # Then its timer is due quarantineDays after the verification, on the day the sweep of that day reads
    [timer] = timers(wf, "PunctualSensor")
    days = load_rules().quarantine_days(SHARED)
    verified_on = datetime.fromtimestamp(int(timer["quarantinedEpoch"]), UTC).date()
    assert timer["pk"] == f"QUARANTINE#{(verified_on + timedelta(days=int(str(days)))).isoformat()}"
    assert verified_on >= start.date()
