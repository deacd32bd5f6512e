"""The longest physical name each service accepts, read from botocore's service models.

CloudFormation passes a resource's name property to the service's create call, which rejects a name over
its limit (a validation error, and the stack rolls back). The limit is the name shape's `max`, or, where that
shape also accepts an ARN or carries no `max`, the limit the member's own documentation in the same model
states ("limited to 64 characters", "up to 80 characters").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

import botocore.session


@dataclass(frozen=True)
class NameMember:
    property_name: str
    service: str
    operation: str
    member: str


# Resource type -> its name property and the API member CloudFormation fills with it.
NAME_MEMBERS: Final = {
    "AWS::Lambda::Function": NameMember("FunctionName", "lambda", "CreateFunction", "FunctionName"),
    "AWS::Lambda::LayerVersion": NameMember("LayerName", "lambda", "PublishLayerVersion", "LayerName"),
    "AWS::Scheduler::Schedule": NameMember("Name", "scheduler", "CreateSchedule", "Name"),
    "AWS::Scheduler::ScheduleGroup": NameMember("Name", "scheduler", "CreateScheduleGroup", "Name"),
    "AWS::SQS::Queue": NameMember("QueueName", "sqs", "CreateQueue", "QueueName"),
    "AWS::SNS::Topic": NameMember("TopicName", "sns", "CreateTopic", "Name"),
    "AWS::StepFunctions::StateMachine": NameMember(
        "StateMachineName", "stepfunctions", "CreateStateMachine", "name"
    ),
    "AWS::IoT::MitigationAction": NameMember("ActionName", "iot", "CreateMitigationAction", "actionName"),
    "AWS::IoT::ThingGroup": NameMember("ThingGroupName", "iot", "CreateThingGroup", "thingGroupName"),
    "AWS::IoT::Thing": NameMember("ThingName", "iot", "CreateThing", "thingName"),
    "AWS::IoT::Policy": NameMember("PolicyName", "iot", "CreatePolicy", "policyName"),
    "AWS::IoT::ScheduledAudit": NameMember(
        "ScheduledAuditName", "iot", "CreateScheduledAudit", "scheduledAuditName"
    ),
    # CreateTable's TableName also takes an ARN (max 1024); the name shape is ListTables' start table name.
    "AWS::DynamoDB::Table": NameMember("TableName", "dynamodb", "ListTables", "ExclusiveStartTableName"),
    "AWS::KMS::Alias": NameMember("AliasName", "kms", "CreateAlias", "AliasName"),
    "AWS::Logs::LogGroup": NameMember("LogGroupName", "logs", "CreateLogGroup", "logGroupName"),
    "AWS::CloudWatch::Alarm": NameMember("AlarmName", "cloudwatch", "PutMetricAlarm", "AlarmName"),
    "AWS::CloudWatch::Dashboard": NameMember("DashboardName", "cloudwatch", "PutDashboard", "DashboardName"),
    "AWS::Events::Rule": NameMember("Name", "events", "PutRule", "Name"),
    "AWS::IAM::Role": NameMember("RoleName", "iam", "CreateRole", "RoleName"),
    "AWS::IAM::ManagedPolicy": NameMember("ManagedPolicyName", "iam", "CreatePolicy", "PolicyName"),
}
_STATED_LIMIT = re.compile(r"(?:limited to|up to|between 1 and|maximum length is) (\d+)")


class NameTooLongError(ValueError):
    """A physical name is longer than its service accepts."""


@cache
def max_length(resource_type: str) -> int | None:
    member = NAME_MEMBERS.get(resource_type)
    if member is None:
        return None
    model = botocore.session.get_session().get_service_model(member.service)
    input_shape = model.operation_model(member.operation).input_shape
    assert input_shape is not None
    shape = input_shape.members[member.member]
    text = re.sub(r"<[^>]+>", "", shape.documentation or "")
    limits = [int(found) for found in _STATED_LIMIT.findall(text)]
    if "max" in shape.metadata:
        limits.append(int(shape.metadata["max"]))
    return min(limits) if limits else None


def check_name(logical_id: str, resource_type: str, name: str, stack_name: str) -> None:
    """Raises NameTooLongError, saying how long the stack name may be when the name is built from it."""
    limit = max_length(resource_type)
    if limit is None or len(name) <= limit:
        return
    member = NAME_MEMBERS[resource_type]
    message = (
        f"{logical_id} ({resource_type}): {member.property_name} {name!r} is {len(name)} characters; "
        f"{member.service} {member.operation} accepts at most {limit}."
    )
    if stack_name and stack_name in name:
        budget = limit - (len(name) - len(stack_name))
        message += f" The name is built from the stack name: use a stack name of at most {budget} characters."
    raise NameTooLongError(message)
