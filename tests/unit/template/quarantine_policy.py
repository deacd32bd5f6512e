"""QuarantineExpiryFunction: what its role may do (release from the stack's quarantine group only), when it
runs, and that its outcomes are on the dashboard and its failures alarmed."""

import json

from audit_remediator.quarantine_services import QuarantineExpirySettings
from tests.unit.template.policy import (
    _alarm_metrics,
    _compare_grants,
    _kill_switch_arn,
    check,
    grants,
    schedules_of,
)
from tests.unit.template.stack import ACCOUNT, PARTITION, REGION, Stack

FUNCTION = "QuarantineExpiryFunction"
METRICS = ("QuarantinesReleased", "QuarantinesExtended", "QuarantineReleaseErrors")


@check
def quarantine_expiry_role_least_privilege(stack: Stack) -> list[str]:
    """It reads audits (no resource type), removes things from the quarantine group only, keeps its timers in
    RemediationTable (no index), publishes its report and reads the kill switch."""
    role = stack.role_of(stack.properties(FUNCTION)["Role"])
    log_group = stack.get_att("QuarantineExpiryLogGroup", "Arn")
    table = stack.get_att("RemediationTable", "Arn")
    expected: dict[str, set[str]] = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "iot:ListAuditTasks": {"*"},
        "iot:DescribeAuditTask": {"*"},
        "iot:ListAuditFindings": {"*"},
        "iot:RemoveThingFromThingGroup": {
            stack.get_att("QuarantineThingGroup", "Arn"),
            f"arn:{PARTITION}:iot:{REGION}:{ACCOUNT}:thing/*",
        },
        "dynamodb:Query": {table},
        "dynamodb:UpdateItem": {table},
        "sns:Publish": {stack.ref("RemediationReportsTopic")},
        "ssm:GetParameter": {_kill_switch_arn(stack)},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def quarantine_expiry_schedule(stack: Stack) -> list[str]:
    """Once a day, looking back over the days a failed sweep may have missed; told which group is its own."""
    rules = schedules_of(stack, FUNCTION)
    if len(rules) != 1:
        return [f"{len(rules)} schedules invoke {FUNCTION}, expected 1"]
    rule = stack.properties(rules[0])
    problems = []
    if rule.get("ScheduleExpression") != "rate(1 day)":
        problems.append(f"the quarantine sweep runs on {rule.get('ScheduleExpression')}, not daily")
    [target] = rule["Targets"]
    if not 1 <= json.loads(target["Input"]).get("missedDays", 0) <= 30:
        problems.append(f"the quarantine sweep's input {target['Input']} looks back no missed day")
    variables = stack.properties(FUNCTION)["Environment"]["Variables"]
    if variables.get("QUARANTINE_THING_GROUP_NAME") != stack.ref("QuarantineThingGroup"):
        problems.append("QuarantineExpiryFunction is not told the stack's quarantine group")
    fields = QuarantineExpirySettings.model_fields.values()
    required = {str(f.alias) for f in fields if f.is_required()} | {"POWERTOOLS_LOG_LEVEL"}
    if set(variables) != required:
        problems.append(
            f"QuarantineExpiryFunction's environment is {sorted(variables)}, its settings need {sorted(required)}"
        )
    return problems


@check
def quarantine_expiry_observed(stack: Stack) -> list[str]:
    """Its counts are on the dashboard; a timer it could not decide, or a failed sweep, raises an alarm."""
    service = (("service", "iot-audit-remediator"),)
    watched = {
        (namespace, name, tuple(sorted(dims.items())))
        for logical_id in stack.of_type("AWS::CloudWatch::Alarm")
        for namespace, name, dims in _alarm_metrics(stack.properties(logical_id))
    }
    required = [
        ("IoTAuditRemediator", "QuarantineReleaseErrors", service),
        ("AWS/Lambda", "Errors", (("FunctionName", stack.ref(FUNCTION)),)),
    ]
    problems = [f"no alarm on {n} {m} {dict(d)}" for n, m, d in required if (n, m, d) not in watched]
    dashboards = json.dumps(
        [stack.properties(d)["DashboardBody"] for d in stack.of_type("AWS::CloudWatch::Dashboard")]
    )
    problems += [f"the dashboard does not show {metric}" for metric in METRICS if metric not in dashboards]
    return problems
