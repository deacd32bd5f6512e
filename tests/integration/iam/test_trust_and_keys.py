"""Trust and key policies the services must satisfy: a trust condition the service's request does not
meet, or a key policy without the publisher, stops the flow where AWS would stop it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import DeployError, Sandbox
from sandbox.workflow import TIME_SCALE
from tests.integration.iam import manifest, mutations
from tests.integration.iam.conftest import denials_of
from tests.integration.iam.scenarios import PARAMETERS, running

ACTION_ROLES = [role for role in manifest.load() if role.endswith("ActionRole")]
OTHER_ACCOUNT = "111122223333"


def test_a_state_machine_role_trusted_for_another_state_machine_is_refused_at_deploy(tmp_path: Path) -> None:
    other = {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:another"}
    template = mutations.trust_condition(
        mutations.load(), "RemediationStateMachineRole", "ArnLike", "aws:SourceArn", other
    )

    with Sandbox(time_scale=TIME_SCALE) as sb:
        with pytest.raises(DeployError) as refused:
            sb.deploy(mutations.write(template, tmp_path), parameters=PARAMETERS)
        [denial] = sb.iam.denials

    assert "RemediationStateMachine: AccessDeniedException" in str(refused.value)
    assert "states.amazonaws.com" in str(refused.value)
    assert "RemediationStateMachineRole" in str(refused.value)
    assert (denial.caller, denial.action, denial.code) == (
        "states.amazonaws.com",
        "sts:AssumeRole",
        "AccessDenied",
    )


@pytest.mark.parametrize("role", ACTION_ROLES)
def test_an_action_role_trusted_for_one_scheduler_schedule_fails_the_actions_findings(
    tmp_path: Path, role: str
) -> None:
    # The ARN of one EventBridge Scheduler schedule, where IoT sends the mitigation action's ARN.
    schedule = {
        "Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/default/x"
    }
    template = mutations.trust_condition(
        mutations.load(), role, "ArnEqualsIfExists", "aws:SourceArn", schedule
    )
    scenario = next(iter(manifest.load()[role].values()))[0]

    with running(scenario, mutations.write(template, tmp_path)) as run:
        refused = [
            d for d in run.sb.iam.denials if (d.caller, d.action) == ("iot.amazonaws.com", "sts:AssumeRole")
        ]
        action = run.wf.action(role.removesuffix("Role"))
        executions = [
            e
            for task in run.wf.mitigation_tasks().values()
            for per_finding in task.executions.values()
            for e in per_finding
            if e.action_name == action
        ]

    assert run.problems
    assert {d.resource for d in refused} == {run.role_arn(role)}
    assert executions
    assert {(e.status, e.error_code) for e in executions} == {("FAILED", "AccessDenied")}


def test_a_notification_role_trusted_for_another_account_sends_nothing(tmp_path: Path) -> None:
    template = mutations.trust_condition(
        mutations.load(), "AuditNotificationRole", "StringEqualsIfExists", "aws:SourceAccount", OTHER_ACCOUNT
    )

    with running("audit", mutations.write(template, tmp_path)) as run:
        [sent] = [p for p in run.sb.emulator.published if p.kind == "audit"]
        refused = [d for d in run.sb.iam.denials if d.action == "sts:AssumeRole"]
        invocations = list(run.sb.lambdas.invocations)
        executions = run.wf.executions()

    assert sent.error is not None
    assert "sts:AssumeRole" in sent.error
    assert [(d.caller, d.resource) for d in refused] == [
        ("iot.amazonaws.com", run.role_arn("AuditNotificationRole"))
    ]
    assert (invocations, executions) == ([], [])


def test_without_the_notification_role_in_the_key_policy_no_notification_is_delivered(tmp_path: Path) -> None:
    template = mutations.without_key_principal(
        mutations.load(), "AuditEventsKey", "PublishersEncryptThroughSns", "AuditNotificationRole"
    )

    with running("audit", mutations.write(template, tmp_path)) as run:
        [sent] = [p for p in run.sb.emulator.published if p.kind == "audit"]
        refused = denials_of(run, "AuditNotificationRole", "kms:*")
        invocations = list(run.sb.lambdas.invocations)

    assert sent.error is not None
    assert "kms:GenerateDataKey" in sent.error
    assert [(d.action, d.code) for d in refused] == [("kms:GenerateDataKey", "KMSAccessDenied")]
    assert invocations == []


def test_a_state_machine_role_the_key_lets_use_only_dynamodb_cannot_publish_its_report(
    tmp_path: Path,
) -> None:
    template = mutations.load()
    statement = mutations.key_statement(template, "RemediationKey", "StateMachineUsesTableAndReportsTopic")
    statement["Condition"]["StringEquals"]["kms:ViaService"] = {
        "Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"
    }

    with running("policy-replacement", mutations.write(template, tmp_path)) as run:
        refused = denials_of(run, "RemediationStateMachineRole", "kms:*")
        publishes = [
            c
            for c in run.sb.calls.of("sns", "Publish")
            if c.caller and "RemediationStateMachineRole" in c.caller
        ]
        reports = run.wf.reports()

    assert run.problems
    assert {(d.action, d.code) for d in refused} == {("kms:GenerateDataKey", "KMSAccessDenied")}
    assert publishes
    assert {c.outcome for c in publishes} == {"KMSAccessDenied"}
    assert [m for m in reports if m.get("kind") == "remediation-report"] == []


def test_without_eventbridge_in_the_key_policy_a_failed_execution_is_not_reported(tmp_path: Path) -> None:
    template = mutations.without_key_statement(
        mutations.load(), "RemediationKey", "EventBridgePublishesReports"
    )

    with running("failed-execution", mutations.write(template, tmp_path)) as run:
        refused = [d for d in run.sb.iam.denials if d.caller == "events.amazonaws.com"]
        failed = [c for c in run.sb.calls.of("events") if c.caller == "events.amazonaws.com"]
        topic = run.stack["RemediationReportsTopic"]

        dlq = run.stack.get_att("RemediationReportsDeliveryDLQ", "Arn")

    assert run.problems
    # The rule's dead-letter queue is encrypted with the same key, so the event cannot be kept there either.
    assert [(d.action, d.code) for d in refused] == [("kms:GenerateDataKey", "KMS.AccessDeniedException")] * 2
    assert [(c.operation, c.params["Target"], c.outcome) for c in failed] == [
        ("Publish", topic, "KMS.AccessDeniedException"),
        ("SendMessage", dlq, "KMS.AccessDeniedException"),
    ]
