"""A task that quarantines things starts only while the deny-all policy is attached to the quarantine group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import ExecutionResult
from sandbox.workflow import Workflow, audit_plan, task

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"


def quarantine_group(wf: Workflow) -> tuple[str, str]:
    group = wf.stack.physical_ids["QuarantineThingGroup"]
    with wf.sb.calls.pause():
        arn = wf.sb.client("iot").describe_thing_group(thingGroupName=group)["thingGroupArn"]
    return group, str(arn)


def attached_policies(wf: Workflow) -> list[str]:
    _, arn = quarantine_group(wf)
    with wf.sb.calls.pause():
        policies = wf.sb.client("iot").list_attached_policies(target=arn)["policies"]
    return [policy["policyName"] for policy in policies]


def detach_quarantine_policy(wf: Workflow) -> None:
    """The group as a deploy leaves it when nothing attached the policy (or someone detached it)."""
    _, arn = quarantine_group(wf)
    policy = wf.stack.physical_ids["QuarantinePolicy"]
    with wf.sb.calls.pause():
        if policy in attached_policies(wf):
            wf.sb.client("iot").detach_policy(policyName=policy, target=arn)


def things_in_quarantine(wf: Workflow) -> list[str]:
    group, _ = quarantine_group(wf)
    with wf.sb.calls.pause():
        return list(wf.sb.client("iot").list_things_in_thing_group(thingGroupName=group)["things"])


def quarantine_plan(wf: Workflow, device_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    audit = wf.seed_audit({SHARED: [wf.device(device_name)]})
    planned = task({"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]})
    return audit_plan(audit.task_id, planned), planned


def only_outcome(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    outcome: dict[str, Any]
    [outcome] = result.output_json["tasks"]
    return outcome


BLOCKED_METRIC = {"Namespace": "IoTAuditRemediator", "MetricName": "QuarantineBlocked"}


def blocked_signals(wf: Workflow) -> float:
    """The sum of the QuarantineBlocked data points the workflow sent for this stack."""
    metric = {**BLOCKED_METRIC, "Dimensions": [{"Name": "stack", "Value": wf.stack.name}]}
    now = datetime.now(UTC)
    with wf.sb.calls.pause():
        data = wf.sb.client("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {"Id": "blocked", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
        )
    return float(sum(value for result in data["MetricDataResults"] for value in result["Values"]))


def blocked_alarm(wf: Workflow) -> dict[str, Any]:
    with wf.sb.calls.pause():
        [alarm] = wf.sb.client("cloudwatch").describe_alarms(
            AlarmNames=[wf.stack.physical_ids["QuarantineBlockedAlarm"]]
        )["MetricAlarms"]
    return {
        "Namespace": alarm["Namespace"],
        "MetricName": alarm["MetricName"],
        "Dimensions": alarm["Dimensions"],
        "Threshold": alarm["Threshold"],
        "ComparisonOperator": alarm["ComparisonOperator"],
        "AlarmActions": alarm["AlarmActions"],
    }


def test_a_quarantine_task_first_attaches_the_deny_all_policy_then_moves_the_thing(wf: Workflow) -> None:
    # Given a quarantine group without its deny-all policy
    detach_quarantine_policy(wf)
    plan, planned = quarantine_plan(wf, "QuarantinedSensor")

    # When the workflow runs a task that quarantines the device
    result = wf.run(plan)

    # Then the policy was attached and read back before the task started, and the thing is in the group;
    # its certificate stays ACTIVE and shared, so the report cannot call it contained
    assert only_outcome(result)["status"] == "COMPLETED"
    [not_contained] = only_outcome(result)["verification"]["notVerifiedFindings"]
    assert not_contained["reasons"][0].startswith("not contained")
    assert result.output_json["result"] == "partial"
    # (the pre-start analysis's reads, made as its own role, come before and change nothing)
    workflow_role = wf.stack.physical_ids["RemediationStateMachineRole"]
    order = [c.operation for c in wf.sb.calls.of("iot") if c.ok and workflow_role in (c.caller or "")]
    assert order[:3] == ["AttachPolicy", "ListAttachedPolicies", "StartAuditMitigationActionsTask"]
    assert attached_policies(wf) == [wf.stack.physical_ids["QuarantinePolicy"]]
    assert "QuarantinedSensor" in things_in_quarantine(wf)
    assert planned["taskId"] in wf.mitigation_tasks()


def test_when_the_policy_cannot_be_attached_no_thing_is_moved_and_the_alarm_is_fed(wf: Workflow) -> None:
    # Given a quarantine group without its policy, and an AttachPolicy IAM or IoT refuses
    detach_quarantine_policy(wf)
    wf.sb.faults.add("iot", "AttachPolicy", error="UnauthorizedException", times=None)
    plan, planned = quarantine_plan(wf, "UnprotectedSensor")
    signals_before = blocked_signals(wf)

    # When the workflow runs the quarantine task
    result = wf.run(plan)

    # Then the task is not started, nothing is moved, and the outcome, the report and the metric say why
    assert "UnprotectedSensor" not in things_in_quarantine(wf)
    assert not wf.start_calls()
    outcome = only_outcome(result)
    assert outcome["status"] == "BLOCKED"
    assert outcome["error"] == "Iot.UnauthorizedException"
    assert outcome["reason"].startswith(
        f"the deny-all policy {wf.stack.physical_ids['QuarantinePolicy']} could not be attached to the quarantine group"
    )
    assert result.output_json["result"] == "failed"
    assert planned["taskId"] not in wf.mitigation_tasks()
    recorded = wf.history(plan["auditTaskId"])[f"TASK#{planned['taskId']}"]
    assert (recorded["status"], recorded["outcome"]["reason"]) == ("BLOCKED", outcome["reason"])
    assert blocked_signals(wf) == signals_before + 1
    assert blocked_alarm(wf) == {
        **BLOCKED_METRIC,
        "Dimensions": [{"Name": "stack", "Value": wf.stack.name}],
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [wf.stack.physical_ids["RemediationReportsTopic"]],
    }


def test_a_policy_the_read_back_does_not_show_blocks_the_task(wf: Workflow) -> None:
    # Given a deny-all policy someone detaches between the workflow's attach and its read-back
    policy = wf.stack.physical_ids["QuarantinePolicy"]

    def detached_meanwhile(_: dict[str, Any]) -> bool:
        detach_quarantine_policy(wf)
        return False

    wf.sb.faults.add("iot", "ListAttachedPolicies", delay=0.001, when=detached_meanwhile)
    plan, planned = quarantine_plan(wf, "RacingSensor")

    # When the workflow runs the quarantine task
    result = wf.run(plan)

    # Then the task is not started: the group does not list the policy at the moment of the start
    outcome = only_outcome(result)
    assert outcome["status"] == "BLOCKED"
    assert outcome["error"] == "Remediation.QuarantinePolicyNotAttached"
    assert policy in outcome["reason"]
    assert not wf.start_calls()
    assert planned["taskId"] not in wf.mitigation_tasks()
    assert "RacingSensor" not in things_in_quarantine(wf)


def test_tasks_that_quarantine_nothing_do_not_touch_the_quarantine_policy(wf: Workflow) -> None:
    audit = wf.seed_audit({LOGGING: [{"account": "123456789012"}]})
    planned = task({"findingIds": audit.ids(LOGGING)}, {LOGGING: [wf.action("EnableErrorLoggingAction")]})

    result = wf.run(audit_plan(audit.task_id, planned))

    assert only_outcome(result)["status"] == "COMPLETED"
    assert not wf.sb.calls.of("iot", "AttachPolicy")
    assert not wf.sb.calls.of("iot", "ListAttachedPolicies")
