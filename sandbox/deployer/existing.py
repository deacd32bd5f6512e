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


def _absent_on(*codes: str) -> Callable[[Callable[[ResourceContext, str], Any]], ExistsCheck]:
    """An existence check from a describe call: found unless the call fails with one of `codes`."""

    def wrap(describe: Callable[[ResourceContext, str], Any]) -> ExistsCheck:
        def exists(d: ResourceContext, name: str) -> bool:
            try:
                describe(d, name)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in codes:
                    return False
                raise
            return True

        return exists

    return wrap


@_absent_on("NotFound", "NotFoundException")
def _topic(d: ResourceContext, name: str) -> Any:
    return d.client("sns").get_topic_attributes(TopicArn=f"arn:aws:sns:{d.region}:{d.account_id}:{name}")


@_absent_on("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
def _queue(d: ResourceContext, name: str) -> Any:
    return d.client("sqs").get_queue_url(QueueName=name)


@_absent_on("ResourceNotFoundException")
def _table(d: ResourceContext, name: str) -> Any:
    return d.client("dynamodb").describe_table(TableName=name)


@_absent_on("ResourceNotFoundException")
def _function(d: ResourceContext, name: str) -> Any:
    return d.client("lambda").get_function(FunctionName=name)


@_absent_on("NoSuchEntity")
def _role(d: ResourceContext, name: str) -> Any:
    return d.client("iam").get_role(RoleName=name)


@_absent_on("ResourceNotFoundException")
def _thing_group(d: ResourceContext, name: str) -> Any:
    return d.client("iot").describe_thing_group(thingGroupName=name)


@_absent_on("ResourceNotFoundException")
def _iot_policy(d: ResourceContext, name: str) -> Any:
    return d.client("iot").get_policy(policyName=name)


@_absent_on("ResourceNotFoundException")
def _mitigation_action(d: ResourceContext, name: str) -> Any:
    return d.client("iot").describe_mitigation_action(actionName=name)


@_absent_on("StateMachineDoesNotExist")
def _state_machine(d: ResourceContext, name: str) -> Any:
    arn = f"arn:aws:states:{d.region}:{d.account_id}:stateMachine:{name}"
    return d.client("stepfunctions").describe_state_machine(stateMachineArn=arn)


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
    "AWS::DynamoDB::Table": ("TableName", _table),
    "AWS::IAM::Role": ("RoleName", _role),
    "AWS::IoT::MitigationAction": ("ActionName", _mitigation_action),
    "AWS::IoT::Policy": ("PolicyName", _iot_policy),
    "AWS::IoT::ThingGroup": ("ThingGroupName", _thing_group),
    "AWS::KMS::Alias": ("AliasName", _alias),
    "AWS::Lambda::Function": ("FunctionName", _function),
    "AWS::Logs::LogGroup": ("LogGroupName", _log_group),
    "AWS::SNS::Topic": ("TopicName", _topic),
    "AWS::SQS::Queue": ("QueueName", _queue),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", _state_machine),
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
