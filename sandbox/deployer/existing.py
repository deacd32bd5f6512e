"""CloudFormation's create of a resource the template names: the resource provider looks the name up first
and fails with AlreadyExists when the account already has it, even where the service's own create call
would return or overwrite the existing resource (SNS CreateTopic, SQS CreateQueue with the same attributes,
IoT CreateThingGroup, CloudWatch PutMetricAlarm, ...).

Sources: the CreateHandlers of aws-cloudformation/aws-cloudformation-resource-providers-* (for example
aws-iot-thinggroup's CreateHandler reads DescribeThingGroup and throws ResourceAlreadyExistsException) and
the plugin's message, cloudformation-java-plugin ExceptionMessages.ALREADY_EXISTS:
"Resource of type '%s' with identifier '%s' already exists."
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from botocore.exceptions import ClientError

from sandbox.account_audit_resource import AlreadyExistsError
from sandbox.deployer.context import ResourceContext

ExistsCheck = Callable[[ResourceContext, str], bool]


def _described(
    service: str, operation: str, request: Callable[[ResourceContext, str], dict[str, Any]], *absent: str
) -> ExistsCheck:
    """An existence check from a describe call: found unless the call fails with one of `absent`."""

    def exists(d: ResourceContext, name: str) -> bool:
        try:
            getattr(d.client(service), operation)(**request(d, name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in absent:
                return False
            raise
        return True

    return exists


def _alarm(d: ResourceContext, name: str) -> bool:
    found = d.client("cloudwatch").describe_alarms(
        AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    return bool(found["MetricAlarms"] or found["CompositeAlarms"])


def _log_group(d: ResourceContext, name: str) -> bool:
    groups = d.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(group["logGroupName"] == name for group in groups)


def _alias(d: ResourceContext, name: str) -> bool:
    return any(alias["AliasName"] == name for alias in d.client("kms").list_aliases()["Aliases"])


# {resource type: (the property that names it, whether that name is taken in the account and Region)}
FIXED_NAMES: Final[dict[str, tuple[str, ExistsCheck]]] = {
    "AWS::CloudWatch::Alarm": ("AlarmName", _alarm),
    "AWS::CloudWatch::CompositeAlarm": ("AlarmName", _alarm),
    "AWS::DynamoDB::Table": (
        "TableName",
        _described("dynamodb", "describe_table", lambda _d, n: {"TableName": n}, "ResourceNotFoundException"),
    ),
    "AWS::IAM::Role": (
        "RoleName",
        _described("iam", "get_role", lambda _d, n: {"RoleName": n}, "NoSuchEntity"),
    ),
    "AWS::IoT::MitigationAction": (
        "ActionName",
        _described(
            "iot", "describe_mitigation_action", lambda _d, n: {"actionName": n}, "ResourceNotFoundException"
        ),
    ),
    "AWS::IoT::Policy": (
        "PolicyName",
        _described("iot", "get_policy", lambda _d, n: {"policyName": n}, "ResourceNotFoundException"),
    ),
    "AWS::IoT::ThingGroup": (
        "ThingGroupName",
        _described(
            "iot", "describe_thing_group", lambda _d, n: {"thingGroupName": n}, "ResourceNotFoundException"
        ),
    ),
    "AWS::KMS::Alias": ("AliasName", _alias),
    "AWS::Lambda::Function": (
        "FunctionName",
        _described("lambda", "get_function", lambda _d, n: {"FunctionName": n}, "ResourceNotFoundException"),
    ),
    "AWS::Logs::LogGroup": ("LogGroupName", _log_group),
    "AWS::SNS::Topic": (
        "TopicName",
        _described(
            "sns",
            "get_topic_attributes",
            lambda d, n: {"TopicArn": f"arn:aws:sns:{d.region}:{d.account_id}:{n}"},
            "NotFound",
            "NotFoundException",
        ),
    ),
    "AWS::SQS::Queue": (
        "QueueName",
        _described(
            "sqs",
            "get_queue_url",
            lambda _d, n: {"QueueName": n},
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ),
    ),
    "AWS::StepFunctions::StateMachine": (
        "StateMachineName",
        _described(
            "stepfunctions",
            "describe_state_machine",
            lambda d, n: {"stateMachineArn": f"arn:aws:states:{d.region}:{d.account_id}:stateMachine:{n}"},
            "StateMachineDoesNotExist",
        ),
    ),
}


def refuse_existing(
    d: ResourceContext, logical_id: str, resource_type: str, properties: Mapping[str, Any]
) -> None:
    """Raises AlreadyExistsError when the template names this resource and the name is taken."""
    entry = FIXED_NAMES.get(resource_type)
    if entry is None:
        return
    property_name, exists = entry
    name = properties.get(property_name)
    if isinstance(name, str) and exists(d, name):
        raise AlreadyExistsError(
            f"{logical_id} ({resource_type}) AlreadyExists: "
            f"Resource of type '{resource_type}' with identifier '{name}' already exists."
        )
