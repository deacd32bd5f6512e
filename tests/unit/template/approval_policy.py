"""The approval functions' roles hold exactly what their one job calls, on exactly their resources."""

from tests.unit.template.policy import _compare_grants, _kill_switch_arn, check, grants
from tests.unit.template.stack import Stack

REMEDIATION_TABLE = "RemediationTable"


@check
def approval_request_role_least_privilege(stack: Stack) -> list[str]:
    """ApprovalRequestFunction writes the approval item and publishes the request to the reports topic."""
    role = stack.role_of(stack.properties("ApprovalRequestFunction")["Role"])
    log_group = stack.get_att("ApprovalRequestLogGroup", "Arn")
    expected: dict[str, set[str]] = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "dynamodb:PutItem": {stack.get_att(REMEDIATION_TABLE, "Arn")},
        "sns:Publish": {stack.ref("RemediationReportsTopic")},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def approval_expiry_role_least_privilege(stack: Stack) -> list[str]:
    """ApprovalExpiryFunction reads the switch, lists pending approvals (the index only), marks them expired
    and fails their tokens (SendTaskFailure names no resource: the token is the authorization)."""
    role = stack.role_of(stack.properties("ApprovalExpiryFunction")["Role"])
    log_group = stack.get_att("ApprovalExpiryLogGroup", "Arn")
    table = stack.get_att(REMEDIATION_TABLE, "Arn")
    expected: dict[str, set[str]] = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "ssm:GetParameter": {_kill_switch_arn(stack)},
        "dynamodb:Query": {f"{table}/index/PendingApprovals"},
        "dynamodb:UpdateItem": {table},
        "states:SendTaskFailure": {"*"},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems
