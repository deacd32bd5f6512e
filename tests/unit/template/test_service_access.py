"""The services that publish reports and write IoT logs get through the policies, with the request context
AWS documents for them: a condition on a key the service does not send would drop every delivery silently."""

from collections.abc import Mapping

import pytest

from sandbox.iam.evaluation import Caller, Policy, Request, evaluate
from tests.unit.template.policy import arn
from tests.unit.template.stack import ACCOUNT, STACK_NAME, Stack

OTHER_ACCOUNT = "210987654321"
KMS_PUBLISH = ("kms:GenerateDataKey", "kms:Decrypt")


def service(principal: str) -> Caller:
    return Caller(principal, None, service=principal)


def document(stack: Stack, logical_id: str, name: str) -> Policy:
    resolved: Policy = stack.resolve(stack.resource(logical_id)["Properties"][name])
    return resolved


def key_allows(stack: Stack, principal: str, action: str, context: Mapping[str, str] | None = None) -> bool:
    # A key policy must itself allow (resource_policy_required), as for every KMS key
    request = Request(service(principal), action, stack.get_att("RemediationKey", "Arn"), context or {})
    key_policy = document(stack, "RemediationKey", "KeyPolicy")
    return evaluate(
        request, resource_policy=key_policy, resource_account=ACCOUNT, resource_policy_required=True
    ).allowed


def topic_allows(stack: Stack, principal: str, context: Mapping[str, str]) -> bool:
    request = Request(service(principal), "sns:Publish", stack.ref("RemediationReportsTopic"), context)
    topic_policy = document(stack, "RemediationReportsTopicPolicy", "PolicyDocument")
    return evaluate(request, resource_policy=topic_policy, resource_account=ACCOUNT).allowed


@pytest.mark.parametrize("action", KMS_PUBLISH)
def test_eventbridge_uses_the_reports_key_without_source_keys(stack: Stack, action: str) -> None:
    # Given the request EventBridge makes for a rule target on an encrypted topic: the SNS guide ("Key
    # management") says aws:SourceAccount/aws:SourceArn/aws:SourceOrgID are not supported in the key policy
    # Then the key policy lets it encrypt the report
    assert key_allows(stack, "events.amazonaws.com", action)


def test_only_the_failed_executions_rule_publishes_to_the_reports_topic(stack: Stack) -> None:
    # Given EventBridge publishing for the stack's rule, and for some other rule
    rule = stack.get_att("RemediationExecutionFailedRule", "Arn")
    ours = {"aws:SourceArn": rule, "aws:SecureTransport": "true"}
    other = {"aws:SourceArn": arn("events", "rule/someone-elses"), "aws:SecureTransport": "true"}
    # Then the topic policy, which carries the source condition the key policy cannot, admits only ours
    assert topic_allows(stack, "events.amazonaws.com", ours)
    assert not topic_allows(stack, "events.amazonaws.com", other)


# Unconfirmed whether CloudWatch sends aws:SourceAccount/aws:SourceArn to KMS for an alarm's publish: both readings.
@pytest.mark.parametrize("action", KMS_PUBLISH)
@pytest.mark.parametrize("sends_source_keys", [True, False], ids=["with source keys", "without source keys"])
def test_alarms_use_the_reports_key_whichever_keys_cloudwatch_sends(
    stack: Stack, action: str, sends_source_keys: bool
) -> None:
    alarm = arn("cloudwatch", f"alarm:{STACK_NAME}-rules-invalid")
    context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm} if sends_source_keys else {}
    assert key_allows(stack, "cloudwatch.amazonaws.com", action, context)


# Unconfirmed whether IoT sends aws:SourceAccount/aws:SourceArn when it assumes the v2 logging role (the
# logging guide shows a plain trust; the IoT confused-deputy page only the general form): both readings.
IOT_LOGGING_CONTEXTS = {
    "without source keys": {},
    "with this account's source keys": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn("iot", "")},
}


@pytest.mark.parametrize("reading", sorted(IOT_LOGGING_CONTEXTS))
def test_iot_assumes_its_logging_role_whichever_keys_it_sends(stack: Stack, reading: str) -> None:
    role = stack.get_att("IotLoggingRole", "Arn")
    request = Request(service("iot.amazonaws.com"), "sts:AssumeRole", role, IOT_LOGGING_CONTEXTS[reading])
    trust = document(stack, "IotLoggingRole", "AssumeRolePolicyDocument")
    decision = evaluate(
        request, resource_policy=trust, resource_account=ACCOUNT, resource_policy_required=True
    )
    assert decision.allowed, decision.reason


def test_the_unconditioned_logging_role_may_only_write_iot_logs(stack: Stack) -> None:
    # A trust without source conditions is safe only because the role can do nothing but write IoT's log group
    statements = stack.role_statements("IotLoggingRole")
    resources = {resource for s in statements if s.is_allow for resource in s.resources}
    actions = {action for s in statements if s.is_allow for action in s.actions}
    group = arn("logs", "log-group:AWSIotLogsV2")
    assert resources == {group, f"{group}:*"}
    assert all(action.startswith("logs:") for action in actions)
    assert stack.role_managed_policy_arns("IotLoggingRole") == []


def iot_may_assume(stack: Stack, role: str, context: Mapping[str, str]) -> bool:
    request = Request(service("iot.amazonaws.com"), "sts:AssumeRole", stack.get_att(role, "Arn"), context)
    trust = document(stack, role, "AssumeRolePolicyDocument")
    return evaluate(
        request, resource_policy=trust, resource_account=ACCOUNT, resource_policy_required=True
    ).allowed


def action_arn(name: str) -> str:
    return arn("iot", f"mitigationaction/{STACK_NAME}-{name}")


# The Device Defender guide gives the source keys' values for these roles, not that IoT sends them.
@pytest.mark.parametrize(
    ("role", "source_arn"),
    [
        ("AuditNotificationRole", arn("iot", "")),
        ("DeactivateDeviceCertificateActionRole", action_arn("DeactivateDeviceCertificateAction")),
        ("QuarantineThingsActionRole", action_arn("QuarantineThingsAction")),
    ],
)
def test_iot_assumes_its_roles_whether_or_not_it_sends_the_source_keys(
    stack: Stack, role: str, source_arn: str
) -> None:
    assert iot_may_assume(stack, role, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": source_arn})
    assert iot_may_assume(stack, role, {})


@pytest.mark.parametrize(
    "context",
    [
        {"aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": action_arn("QuarantineThingsAction")},
        {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": action_arn("DeactivateDeviceCertificateAction")},
        {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn("iot", "mitigationaction/someone-elses")},
    ],
    ids=["another account", "another action of the stack", "another action"],
)
def test_iot_cannot_assume_an_action_role_on_behalf_of_anything_else(
    stack: Stack, context: dict[str, str]
) -> None:
    assert not iot_may_assume(stack, "QuarantineThingsActionRole", context)
