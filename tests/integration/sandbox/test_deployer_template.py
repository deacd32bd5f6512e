"""The deployer against the real template.yaml: every resource type it uses, created and wired."""

from __future__ import annotations

import json

import pytest

from sandbox import Sandbox, Stack, supported_resource_types
from sandbox.cloudformation.sam import translate_file as translate
from tests.conftest import ROOT, STACK_NAME, function_environment

TEMPLATE = ROOT / "template.yaml"
FUNCTION_ENVIRONMENT = function_environment()
# A fresh sandbox account has no Device Defender audit configuration; the stack provides it.
PARAMETERS = {"RemediationMode": "Enforce", "ManageAccountAuditConfiguration": "true"}


def test_every_resource_type_of_the_template_can_be_created() -> None:
    # Conditions are ignored here on purpose: a type behind a false condition must be creatable too.
    translated = translate(TEMPLATE, {}, region="us-east-1").template

    types = {resource["Type"] for resource in translated["Resources"].values()}

    assert types - supported_resource_types() == set()


@pytest.fixture
def stack(sb: Sandbox) -> Stack:
    return sb.deploy(TEMPLATE, parameters=PARAMETERS)


def test_the_function_runs_the_template_handler_with_the_contract_environment(
    sb: Sandbox, stack: Stack
) -> None:
    spec = sb.lambdas.get("AuditEventsFunction")

    assert spec.function_name == f"{STACK_NAME}-audit-events"
    assert (spec.handler, spec.code_dir, spec.layer_dirs) == (
        "app.lambda_handler",
        ROOT / "functions" / "audit_events",
        [ROOT / "layers" / "core"],
    )
    assert set(spec.environment) == FUNCTION_ENVIRONMENT
    assert spec.environment["STATE_MACHINE_ARN"] == stack["RemediationStateMachine"]
    assert spec.environment["AUDIT_EVENTS_TOPIC_ARN"] == stack["AuditEventsTopic"]
    assert spec.environment["QUARANTINE_QUEUE_URL"] == stack["AuditEventsQuarantineQueue"]
    assert spec.environment["REMEDIATION_MODE"] == "Enforce"
    assert spec.environment["MITIGATION_ACTION_NAME_PREFIX"] == f"{STACK_NAME}-"
    assert (spec.maximum_retry_attempts, spec.on_failure_destination) == (
        2,
        stack.get_att("AuditEventsFailureQueue", "Arn"),
    )
    assert (spec.memory_mb, spec.timeout_seconds) == (512, 30)


def test_the_topic_delivers_to_the_function_with_its_dead_letter_queue(sb: Sandbox, stack: Stack) -> None:
    sns = sb.client("sns")

    [subscription] = sns.list_subscriptions_by_topic(TopicArn=stack["AuditEventsTopic"])["Subscriptions"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])[
        "Attributes"
    ]
    topic = sns.get_topic_attributes(TopicArn=stack["AuditEventsTopic"])["Attributes"]

    assert (subscription["Protocol"], subscription["Endpoint"]) == (
        "lambda",
        stack.get_att("AuditEventsFunction", "Arn"),
    )
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.get_att("AuditEventsSubscriptionDLQ", "Arn")
    }
    assert topic["KmsMasterKeyId"] == stack["AuditEventsKey"]
    assert "NobodyElsePublishes" in topic["Policy"]


def test_the_state_machine_runs_the_asl_file_with_its_substitutions(sb: Sandbox, stack: Stack) -> None:
    described = sb.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack["RemediationStateMachine"]
    )

    assert described["name"] == f"{STACK_NAME}-remediation"
    assert "${" not in described["definition"]
    assert stack["RemediationTable"] in described["definition"]
    asl = (ROOT / "statemachine" / "remediation.asl.json").read_text()
    assert json.loads(described["definition"])["States"].keys() == json.loads(asl)["States"].keys()


def test_tables_have_their_time_to_live(sb: Sandbox, stack: Stack) -> None:
    dynamodb = sb.client("dynamodb")

    ttl = {
        logical_id: dynamodb.describe_time_to_live(TableName=stack[logical_id])["TimeToLiveDescription"]
        for logical_id in ("IdempotencyTable", "RemediationTable")
    }

    assert ttl["IdempotencyTable"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    assert ttl["RemediationTable"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_device_defender_resources_exist_in_the_emulator(sb: Sandbox, stack: Stack) -> None:
    iot = sb.client("iot")

    actions = {a["actionName"] for a in iot.list_mitigation_actions()["actionIdentifiers"]}
    quarantine = iot.describe_mitigation_action(actionName=stack["QuarantineThingsAction"])
    configuration = iot.describe_account_audit_configuration()
    scheduled = iot.list_scheduled_audits()["scheduledAudits"]

    assert actions == {
        f"{STACK_NAME}-{name}"
        for name in (
            "EnableErrorLoggingAction",
            "QuarantineThingsAction",
            "DeactivateDeviceCertificateAction",
            "DeactivateCaCertificateAction",
            "ReplacePolicyWithBlankAction",
            "PublishFindingToReportsAction",
        )
    }
    assert quarantine["actionParams"] == {
        "addThingsToThingGroupParams": {
            "thingGroupNames": [stack["QuarantineThingGroup"]],
            "overrideDynamicGroups": True,
        }
    }
    assert quarantine["roleArn"] == stack.get_att("QuarantineThingsActionRole", "Arn")
    assert (
        configuration["auditNotificationTargetConfigurations"]["SNS"]["targetArn"]
        == stack["AuditEventsTopic"]
    )
    assert configuration["auditCheckConfigurations"]["DEVICE_CERTIFICATE_SHARED_CHECK"]["enabled"] is True
    assert [audit["scheduledAuditName"] for audit in scheduled] == [stack["ScheduledAudit"]]


def test_outputs_are_resolved(stack: Stack) -> None:
    assert stack.outputs["RemediationStateMachineArn"] == stack["RemediationStateMachine"]
    assert all(isinstance(value, str) for value in stack.outputs.values())


def test_resources_behind_false_conditions_are_not_created(sb: Sandbox) -> None:
    stack = sb.deploy(TEMPLATE, parameters={"ScheduledAuditFrequency": "NONE"})

    assert "ScheduledAudit" not in stack.physical_ids
    assert "AccountAuditConfiguration" not in stack.physical_ids
    assert sb.client("iot").list_scheduled_audits()["scheduledAudits"] == []
