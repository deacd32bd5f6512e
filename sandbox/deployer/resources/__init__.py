"""Which handler creates each resource type (the sandbox creates exactly these and refuses every other) and
which deletes it (the types the project's template uses)."""

from typing import Final

from sandbox.deployer.context import ResourceDeleter, ResourceHandler
from sandbox.deployer.resources import (
    cloudwatch,
    dynamodb,
    events,
    iam,
    iot,
    kms,
    lambda_functions,
    messaging,
    ssm,
    state_machines,
)

RESOURCE_HANDLERS: Final[dict[str, ResourceHandler]] = {
    "AWS::CloudWatch::Alarm": cloudwatch.cloudwatch_alarm,
    "AWS::CloudWatch::CompositeAlarm": cloudwatch.cloudwatch_composite_alarm,
    "AWS::CloudWatch::Dashboard": cloudwatch.cloudwatch_dashboard,
    "AWS::DynamoDB::Table": dynamodb.dynamodb_table,
    "AWS::Events::Rule": events.events_rule,
    "AWS::IAM::ManagedPolicy": iam.iam_managed_policy,
    "AWS::IAM::Policy": iam.iam_policy,
    "AWS::IAM::Role": iam.iam_role,
    "AWS::IoT::AccountAuditConfiguration": iot.iot_account_audit_configuration,
    "AWS::IoT::MitigationAction": iot.iot_mitigation_action,
    "AWS::IoT::Policy": iot.iot_policy,
    "AWS::IoT::PolicyPrincipalAttachment": iot.iot_policy_attachment,
    "AWS::IoT::ScheduledAudit": iot.iot_scheduled_audit,
    "AWS::IoT::Thing": iot.iot_thing,
    "AWS::IoT::ThingGroup": iot.iot_thing_group,
    "AWS::IoT::ThingPrincipalAttachment": iot.iot_thing_attachment,
    "AWS::KMS::Alias": kms.kms_alias,
    "AWS::KMS::Key": kms.kms_key,
    "AWS::Lambda::Alias": lambda_functions.lambda_alias,
    "AWS::Lambda::EventInvokeConfig": lambda_functions.event_invoke_config,
    "AWS::Lambda::Function": lambda_functions.lambda_function,
    "AWS::Lambda::LayerVersion": lambda_functions.layer_version,
    "AWS::Lambda::Permission": lambda_functions.lambda_permission,
    "AWS::Lambda::Version": lambda_functions.lambda_version,
    "AWS::Logs::LogGroup": cloudwatch.log_group,
    "AWS::Logs::MetricFilter": cloudwatch.metric_filter,
    "AWS::Scheduler::Schedule": events.scheduler_schedule,
    "AWS::SNS::Subscription": messaging.sns_subscription,
    "AWS::SNS::Topic": messaging.sns_topic,
    "AWS::SNS::TopicInlinePolicy": messaging.sns_topic_policy,
    "AWS::SNS::TopicPolicy": messaging.sns_topic_policy,
    "AWS::SQS::Queue": messaging.sqs_queue,
    "AWS::SQS::QueuePolicy": messaging.sqs_queue_policy,
    "AWS::SSM::Parameter": ssm.ssm_parameter,
    "AWS::StepFunctions::StateMachine": state_machines.state_machine,
}
RESOURCE_DELETERS: Final[dict[str, ResourceDeleter]] = {
    "AWS::CloudWatch::Alarm": cloudwatch.delete_alarm,
    "AWS::CloudWatch::Dashboard": cloudwatch.delete_dashboard,
    "AWS::DynamoDB::Table": dynamodb.delete_dynamodb_table,
    "AWS::Events::Rule": events.delete_events_rule,
    "AWS::IAM::ManagedPolicy": iam.delete_iam_managed_policy,
    "AWS::IAM::Role": iam.delete_iam_role,
    "AWS::IoT::AccountAuditConfiguration": iot.delete_account_audit_configuration,
    "AWS::IoT::MitigationAction": iot.delete_mitigation_action,
    "AWS::IoT::Policy": iot.delete_iot_policy,
    "AWS::IoT::ScheduledAudit": iot.delete_scheduled_audit,
    "AWS::IoT::ThingGroup": iot.delete_thing_group,
    "AWS::KMS::Alias": kms.delete_kms_alias,
    "AWS::KMS::Key": kms.delete_kms_key,
    "AWS::Lambda::EventInvokeConfig": lambda_functions.delete_event_invoke_config,
    "AWS::Lambda::Function": lambda_functions.delete_lambda_function,
    "AWS::Lambda::LayerVersion": lambda_functions.delete_layer_version,
    "AWS::Lambda::Permission": lambda_functions.delete_lambda_permission,
    "AWS::Logs::LogGroup": cloudwatch.delete_log_group,
    "AWS::SNS::Subscription": messaging.delete_sns_subscription,
    "AWS::SNS::Topic": messaging.delete_sns_topic,
    "AWS::SNS::TopicPolicy": messaging.delete_sns_topic_policy,
    "AWS::SQS::Queue": messaging.delete_sqs_queue,
    "AWS::SQS::QueuePolicy": messaging.delete_sqs_queue_policy,
    "AWS::SSM::Parameter": ssm.delete_ssm_parameter,
    "AWS::StepFunctions::StateMachine": state_machines.delete_state_machine,
}
# Created by the Device Defender emulator, not moto.
EMULATED_RESOURCE_TYPES: Final = frozenset(
    {"AWS::IoT::MitigationAction", "AWS::IoT::ScheduledAudit", "AWS::IoT::AccountAuditConfiguration"}
)


def supported_resource_types() -> frozenset[str]:
    return frozenset(RESOURCE_HANDLERS)
