"""The services that publish reports and write IoT logs get through the policies, with the request context
AWS documents for them: a condition on a key the service does not send would drop every delivery silently."""

import pytest

from tests.unit.template.evaluate import ServiceRequest, allowed
from tests.unit.template.policy import arn
from tests.unit.template.stack import ACCOUNT, STACK_NAME, Stack

OTHER_ACCOUNT = "210987654321"
KMS_PUBLISH = ("kms:GenerateDataKey", "kms:Decrypt")


def reports_key_statements(stack: Stack) -> list:
    return stack.policy_statements(stack.resource("RemediationKey")["Properties"]["KeyPolicy"])


def reports_topic_statements(stack: Stack) -> list:
    return stack.policy_statements(
        stack.resource("RemediationReportsTopicPolicy")["Properties"]["PolicyDocument"]
    )


@pytest.mark.parametrize("action", KMS_PUBLISH)
def test_eventbridge_uses_the_reports_key_without_source_keys(stack: Stack, action: str) -> None:
    # Given the request EventBridge makes for a rule target on an encrypted topic: the SNS guide ("Key
    # management") says aws:SourceAccount/aws:SourceArn/aws:SourceOrgID are not supported in the key policy
    request = ServiceRequest("events.amazonaws.com", action)
    # Then the key policy lets it encrypt the report
    assert allowed(reports_key_statements(stack), request)


def test_only_the_failed_executions_rule_publishes_to_the_reports_topic(stack: Stack) -> None:
    # Given EventBridge publishing for the stack's rule, and for some other rule
    rule = stack.get_att("RemediationExecutionFailedRule", "Arn")
    ours = ServiceRequest(
        "events.amazonaws.com", "sns:Publish", {"aws:SourceArn": rule, "aws:SecureTransport": "true"}
    )
    other = ServiceRequest(
        "events.amazonaws.com",
        "sns:Publish",
        {"aws:SourceArn": arn("events", "rule/someone-elses"), "aws:SecureTransport": "true"},
    )
    # Then the topic policy, which carries the source condition the key policy cannot, admits only ours
    assert allowed(reports_topic_statements(stack), ours)
    assert not allowed(reports_topic_statements(stack), other)


@pytest.mark.parametrize("action", KMS_PUBLISH)
def test_alarms_of_this_account_use_the_reports_key(stack: Stack, action: str) -> None:
    alarm = arn("cloudwatch", f"alarm:{STACK_NAME}-rules-invalid")
    ours = ServiceRequest(
        "cloudwatch.amazonaws.com", action, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm}
    )
    foreign = ServiceRequest(
        "cloudwatch.amazonaws.com",
        action,
        {"aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": alarm.replace(ACCOUNT, OTHER_ACCOUNT)},
    )
    assert allowed(reports_key_statements(stack), ours)
    assert not allowed(reports_key_statements(stack), foreign)


# Unconfirmed whether IoT sends aws:SourceAccount/aws:SourceArn when it assumes the v2 logging role (the
# logging guide shows a plain trust; the IoT confused-deputy page only the general form): both readings.
IOT_LOGGING_CONTEXTS = {
    "without source keys": {},
    "with this account's source keys": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn("iot", "")},
}


@pytest.mark.parametrize("reading", sorted(IOT_LOGGING_CONTEXTS))
def test_iot_assumes_its_logging_role_whichever_keys_it_sends(stack: Stack, reading: str) -> None:
    request = ServiceRequest("iot.amazonaws.com", "sts:AssumeRole", IOT_LOGGING_CONTEXTS[reading])
    assert allowed(stack.trust_statements("IotLoggingRole"), request)


def test_the_unconditioned_logging_role_may_only_write_iot_logs(stack: Stack) -> None:
    # A trust without source conditions is safe only because the role can do nothing but write IoT's log group
    statements = stack.role_statements("IotLoggingRole")
    resources = {resource for s in statements if s.is_allow for resource in s.resources}
    actions = {action for s in statements if s.is_allow for action in s.actions}
    group = arn("logs", "log-group:AWSIotLogsV2")
    assert resources == {group, f"{group}:*"}
    assert all(action.startswith("logs:") for action in actions)
    assert stack.role_managed_policy_arns("IotLoggingRole") == []
