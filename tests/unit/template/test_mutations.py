"""Each check catches the change it exists for: a widened copy of template.yaml must fail it.

A mutation edits the template as written (before the Serverless transform), the way a later commit would.
"""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.template.conftest import EVERYTHING_ON
from tests.unit.template.policy import CHECKS
from tests.unit.template.stack import Stack

Template = dict[str, Any]


def properties(template: Template, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return props


def inline_statements(template: Template, role: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = properties(template, role)["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def add_statement(role: str, statement: dict[str, Any]) -> Callable[[Template], None]:
    def mutate(template: Template) -> None:
        inline_statements(template, role).append(statement)

    return mutate


def trust_conditions(template: Template, role: str) -> dict[str, Any]:
    conditions: dict[str, Any] = properties(template, role)["AssumeRolePolicyDocument"]["Statement"][0][
        "Condition"
    ]
    return conditions


def set_path(logical_id: str, path: list[str], value: Any) -> Callable[[Template], None]:
    def mutate(template: Template) -> None:
        node = template["Resources"][logical_id]
        for key in path[:-1]:
            node = node[key]
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


def remove_source_arn(template: Template) -> None:
    del trust_conditions(template, "DeactivateDeviceCertificateActionRole")["ArnEqualsIfExists"]


def borrow_another_actions_source_arn(template: Template) -> None:
    trust_conditions(template, "DeactivateCaCertificateActionRole")["ArnEqualsIfExists"]["aws:SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:mitigationaction/*"
    }


def add_topic_publisher(template: Template) -> None:
    statement = properties(template, "AuditEventsTopicPolicy")["PolicyDocument"]["Statement"][0]
    statement["Principal"]["AWS"].append("arn:aws:iam::123456789012:role/somebody-else")


def let_everyone_publish(template: Template) -> None:
    properties(template, "AuditEventsTopicPolicy")["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": {"Ref": "AuditEventsTopic"},
        }
    )


def drop_tls_deny(template: Template) -> None:
    statements = properties(template, "AuditEventsTopicPolicy")["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "DenyPublishWithoutTls"]


def open_the_function_to_everyone(template: Template) -> None:
    template["Resources"]["AnyoneMayInvoke"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "AuditEventsFunction"},
            "Principal": "*",
        },
    }


def key_grant_to_events(template: Template) -> None:
    statement = properties(template, "AuditEventsKey")["KeyPolicy"]["Statement"][2]
    statement["Principal"] = {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}


def remove_a_suppression_reason(template: Template) -> None:
    skips = template["Resources"]["AuditEventsFunction"]["Metadata"]["checkov"]["skip"]
    skips[0]["comment"] = ""


def forget_timed_out_executions(template: Template) -> None:
    pattern = properties(template, "RemediationExecutionFailedRule")["EventPattern"]
    pattern["detail"]["status"] = ["FAILED", "ABORTED"]


def drop_rules_invalid_alarm(template: Template) -> None:
    del template["Resources"]["RulesInvalidAlarm"]


def quarantine_allows(template: Template) -> None:
    properties(template, "QuarantinePolicy")["PolicyDocument"]["Statement"][0]["Effect"] = "Allow"


def audit_configuration_deleted_with_the_stack(template: Template) -> None:
    template["Resources"]["AccountAuditConfiguration"]["DeletionPolicy"] = "Delete"


def drop_a_dashboard_metric(template: Template) -> None:
    body = properties(template, "RemediationDashboard")["DashboardBody"]
    body["Fn::Sub"][0] = body["Fn::Sub"][0].replace(
        '[".", "FindingsFailed", ".", "."]', '[".", "Other", ".", "."]'
    )


def literal_arn_in_the_workflow(template: Template) -> None:
    substitutions = properties(template, "RemediationStateMachine")["DefinitionSubstitutions"]
    del substitutions["RemediationTableName"]


MUTATIONS: dict[str, tuple[Callable[[Template], None], str]] = {
    "state machine role gets iot:*": (
        add_statement("RemediationStateMachineRole", {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}),
        "no_wildcard_grants",
    ),
    "state machine role gets iot:* (exact set)": (
        add_statement("RemediationStateMachineRole", {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}),
        "state_machine_role_least_privilege",
    ),
    "state machine role gets iam:PassRole": (
        add_statement(
            "RemediationStateMachineRole", {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
        ),
        "no_runtime_pass_role",
    ),
    "function role gets iam:Pass*": (
        add_statement("AuditEventsFunctionRole", {"Effect": "Allow", "Action": "iam:Pass*", "Resource": "*"}),
        "no_runtime_pass_role",
    ),
    "function role may create mitigation actions": (
        add_statement(
            "AuditEventsFunctionRole",
            {"Effect": "Allow", "Action": "iot:CreateMitigationAction", "Resource": "*"},
        ),
        "no_runtime_pass_role",
    ),
    "function role gets *:*": (
        add_statement("AuditEventsFunctionRole", {"Effect": "Allow", "Action": "*:*", "Resource": "*"}),
        "no_wildcard_grants",
    ),
    "function role may scan tables": (
        add_statement(
            "AuditEventsFunctionRole", {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"}
        ),
        "function_role_least_privilege",
    ),
    "analysis role may deactivate certificates": (
        add_statement(
            "PreStartAnalysisFunctionRole",
            {"Effect": "Allow", "Action": "iot:UpdateCertificate", "Resource": "*"},
        ),
        "analysis_role_least_privilege",
    ),
    "analysis role may start mitigation tasks": (
        add_statement(
            "PreStartAnalysisFunctionRole",
            {"Effect": "Allow", "Action": "iot:StartAuditMitigationActionsTask", "Resource": "*"},
        ),
        "analysis_role_least_privilege",
    ),
    "security hub sync role may read findings of any hub": (
        add_statement(
            "SecurityHubSyncFunctionRole",
            {"Effect": "Allow", "Action": "securityhub:GetFindings", "Resource": "*"},
        ),
        "securityhub_sync_role_least_privilege",
    ),
    "security hub sync role may import findings": (
        add_statement(
            "SecurityHubSyncFunctionRole",
            {"Effect": "Allow", "Action": "securityhub:BatchImportFindings", "Resource": "*"},
        ),
        "securityhub_sync_role_least_privilege",
    ),
    "state machine may invoke any function": (
        add_statement(
            "RemediationStateMachineRole",
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
        ),
        "state_machine_role_least_privilege",
    ),
    "function role may start any state machine": (
        add_statement(
            "AuditEventsFunctionRole", {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}
        ),
        "function_role_least_privilege",
    ),
    "mitigation role loses aws:SourceArn": (remove_source_arn, "confused_deputy"),
    "mitigation role trusts every mitigation action": (borrow_another_actions_source_arn, "confused_deputy"),
    "CA role may deactivate device certificates": (
        add_statement(
            "DeactivateCaCertificateActionRole",
            {"Effect": "Allow", "Action": "iot:UpdateCertificate", "Resource": "*"},
        ),
        "mitigation_roles_least_privilege",
    ),
    "publish action points at the trigger topic": (
        set_path(
            "PublishFindingToReportsAction",
            ["Properties", "ActionParams", "PublishFindingToSnsParams", "TopicArn"],
            {"Ref": "AuditEventsTopic"},
        ),
        "mitigation_roles_least_privilege",
    ),
    "state machine is EXPRESS (C28)": (
        set_path("RemediationStateMachine", ["Properties", "Type"], "EXPRESS"),
        "standard_state_machine",
    ),
    "topic gets another publisher": (add_topic_publisher, "topic_publishers"),
    "everyone may publish to the topic": (let_everyone_publish, "topic_publishers"),
    "topic accepts publishing without TLS": (drop_tls_deny, "topic_publishers"),
    "function invocable by anyone": (open_the_function_to_everyone, "lambda_invoke"),
    "topic not encrypted": (
        set_path("AuditEventsTopic", ["Properties", "KmsMasterKeyId"], None),
        "encryption_at_rest",
    ),
    "queue not encrypted": (
        set_path("AuditEventsSubscriptionDLQ", ["Properties", "KmsMasterKeyId"], None),
        "encryption_at_rest",
    ),
    "table without point-in-time recovery": (
        set_path("RemediationTable", ["Properties", "PointInTimeRecoverySpecification"], None),
        "encryption_at_rest",
    ),
    "topic key shared with EventBridge": (key_grant_to_events, "audit_events_key_policy"),
    "state machine log group keeps logs forever": (
        set_path("RemediationStateMachineLogGroup", ["Properties", "RetentionInDays"], None),
        "logging_and_tracing",
    ),
    "state machine logs errors only": (
        set_path("RemediationStateMachine", ["Properties", "Logging", "Level"], "ERROR"),
        "logging_and_tracing",
    ),
    "function not traced": (
        set_path("AuditEventsFunction", ["Properties", "Tracing"], "PassThrough"),
        "logging_and_tracing",
    ),
    "workflow uses an unsubstituted name": (literal_arn_in_the_workflow, "workflow_definition_wiring"),
    "function subscribed without a DLQ": (
        set_path(
            "AuditEventsFunction",
            ["Properties", "Events", "AuditEvents", "Properties", "RedrivePolicy"],
            None,
        ),
        "event_source_wiring",
    ),
    "suppression without a reason": (remove_a_suppression_reason, "suppressions_have_reasons"),
    "timed-out executions not reported": (forget_timed_out_executions, "failed_executions_reported"),
    "no alarm on RulesInvalid": (drop_rules_invalid_alarm, "alarms"),
    "dashboard misses FindingsFailed": (drop_a_dashboard_metric, "dashboard"),
    "quarantine policy allows": (quarantine_allows, "quarantine_cuts_devices_off"),
    "workflow not told the quarantine policy": (
        lambda template: properties(template, "RemediationStateMachine")["DefinitionSubstitutions"].pop(
            "QuarantinePolicyName"
        ),
        "quarantine_cuts_devices_off",
    ),
    "workflow may put metrics anywhere": (
        set_path(
            "RemediationStateMachineRole",
            ["Properties", "Policies", 0, "PolicyDocument", "Statement", 3, "Condition"],
            None,
        ),
        "state_machine_role_least_privilege",
    ),
    "no alarm on a blocked quarantine": (
        lambda template: template["Resources"].pop("QuarantineBlockedAlarm"),
        "alarms",
    ),
    "audit configuration deleted with the stack": (audit_configuration_deleted_with_the_stack, "audit_setup"),
    "quarantine group retained after a failed first deploy": (
        set_path("QuarantineThingGroup", ["DeletionPolicy"], "Retain"),
        "retained_resources_survive_only_a_successful_create",
    ),
    "audit role replaced without keeping the old one": (
        set_path("AuditRole", ["UpdateReplacePolicy"], None),
        "retained_resources_survive_only_a_successful_create",
    ),
    "scheduled audit without the audit configuration": (
        lambda template: template["Resources"]["ScheduledAudit"].pop("Condition"),
        "audit_setup",
    ),
    "function reads every parameter": (
        add_statement(
            "AuditEventsFunctionRole",
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": {"Fn::Sub": "arn:aws:ssm:*:*:parameter/*"},
            },
        ),
        "function_role_least_privilege",
    ),
    "state machine may write the kill switch": (
        add_statement(
            "RemediationStateMachineRole",
            {
                "Effect": "Allow",
                "Action": "ssm:PutParameter",
                "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/kill-switch"
                },
            },
        ),
        "state_machine_role_least_privilege",
    ),
    "kill switch pulled by default": (
        set_path("KillSwitchParameter", ["Properties", "Value"], "pulled"),
        "kill_switch",
    ),
    "kill switch accepts any value": (
        set_path("KillSwitchParameter", ["Properties", "AllowedPattern"], None),
        "kill_switch",
    ),
    "kill switch changes not reported": (
        set_path("KillSwitchChangedRule", ["Properties", "Targets"], []),
        "kill_switch",
    ),
    "kill switch rule matches another parameter": (
        set_path("KillSwitchChangedRule", ["Properties", "EventPattern", "detail", "name"], ["/other"]),
        "kill_switch",
    ),
    "kill switch rule may publish without its source": (
        lambda template: properties(template, "RemediationReportsTopicPolicy")["PolicyDocument"]["Statement"][
            1
        ].pop("Condition"),
        "reports_topic_publishers",
    ),
    "sweep decides with other settings": (
        lambda template: properties(template, "ReconcileFunction")["Environment"]["Variables"].pop(
            "HISTORY_RETENTION_DAYS"
        ),
        "reconcile_sweep",
    ),
    "sweep looks back a fixed number of days": (
        set_path(
            "ReconcileFunction", ["Properties", "Events", "Sweep", "Properties", "Input"], '{"days": 90}'
        ),
        "reconcile_sweep",
    ),
    "sweep invocable by any rule": (
        lambda template: template["Resources"].setdefault(
            "AnyRuleInvokesSweep",
            {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "ReconcileFunction"},
                    "Principal": "events.amazonaws.com",
                },
            },
        ),
        "lambda_invoke",
    ),
    "no alarm on reconciled audits": (
        lambda template: template["Resources"].pop("AuditsReconciledAlarm"),
        "alarms",
    ),
    "sweep may start any state machine": (
        add_statement(
            "ReconcileFunctionRole",
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"},
        ),
        "reconcile_role_least_privilege",
    ),
}


# Changes that only show in some deployments; every other mutation must be caught in both.
ONLY_WITH_DEFAULTS = {"scheduled audit without the audit configuration"}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_widened_template_fails_its_check(name: str, written: dict[str, Any]) -> None:
    mutate, check_name = MUTATIONS[name]
    # Given a copy of template.yaml changed the way a careless commit would
    template = copy.deepcopy(written)
    mutate(template)
    # When the property is checked, with and without the optional parameters
    deployments = [{}] if name in ONLY_WITH_DEFAULTS else [{}, EVERYTHING_ON]
    violations = [CHECKS[check_name](Stack(template, dict(parameters))) for parameters in deployments]
    # Then it is caught whichever way the stack is deployed
    assert all(violations), f"{check_name} missed: {name}"
