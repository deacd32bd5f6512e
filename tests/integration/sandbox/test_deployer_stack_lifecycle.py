"""Creating and deleting the project's stack meets what the account already holds the way CloudFormation does:
a resource the template names fails with AlreadyExists when that name is taken, a failed create rolls back
(keeping only Retain resources), and deleting the stack keeps what its DeletionPolicy retains."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.account_audit_resource import AlreadyExistsError
from sandbox.deployer import DeployError
from tests.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
STACK = "remediator"
QUARANTINE_GROUP = f"{STACK}-quarantine"
QUARANTINE_POLICY = f"{STACK}-quarantine-deny-all"


def inventory(sb: Sandbox) -> dict[str, set[str]]:
    """What the account holds, by kind: enough to see anything a deploy created or left behind."""
    iot, kms = sb.client("iot"), sb.client("kms")
    live_keys = {
        key["KeyId"]
        for key in kms.list_keys()["Keys"]
        if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
    }
    return {
        "topics": {t["TopicArn"] for t in sb.client("sns").list_topics()["Topics"]},
        "queues": set(sb.client("sqs").list_queues().get("QueueUrls", [])),
        "tables": set(sb.client("dynamodb").list_tables()["TableNames"]),
        "functions": {f["FunctionName"] for f in sb.client("lambda").list_functions()["Functions"]},
        "roles": {r["RoleName"] for r in sb.client("iam").list_roles()["Roles"]},
        "thing groups": {g["groupName"] for g in iot.list_thing_groups()["thingGroups"]},
        "iot policies": {p["policyName"] for p in iot.list_policies()["policies"]},
        "mitigation actions": {a["actionName"] for a in iot.list_mitigation_actions()["actionIdentifiers"]},
        "state machines": {
            m["name"] for m in sb.client("stepfunctions").list_state_machines()["stateMachines"]
        },
        "alarms": {a["AlarmName"] for a in sb.client("cloudwatch").describe_alarms()["MetricAlarms"]},
        "log groups": {g["logGroupName"] for g in sb.client("logs").describe_log_groups()["logGroups"]},
        "key aliases": {a["AliasName"] for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a},
        "keys": live_keys,
        "rules": {r["Name"] for r in sb.client("events").list_rules()["Rules"]},
    }


def delete_quarantine_by_hand(sb: Sandbox) -> None:
    iot = sb.client("iot")
    iot.delete_thing_group(thingGroupName=QUARANTINE_GROUP)
    iot.delete_policy(policyName=QUARANTINE_POLICY)


def test_deleting_the_stack_keeps_the_quarantine_and_a_new_stack_of_that_name_fails_on_it(
    sb: Sandbox,
) -> None:
    # Given the stack, deployed and then deleted
    empty = inventory(sb)
    sb.deploy(TEMPLATE, stack_name=STACK)
    kept = sb.delete(STACK)
    # Then only the resources whose DeletionPolicy retains them are left (RetainExceptOnCreate)
    assert sorted(kept) == ["QuarantinePolicy", "QuarantineThingGroup"]
    after_delete = inventory(sb)
    assert after_delete["thing groups"] == {QUARANTINE_GROUP}
    assert after_delete["iot policies"] == {QUARANTINE_POLICY}
    assert {
        kind: names for kind, names in after_delete.items() if kind not in ("thing groups", "iot policies")
    } == {kind: names for kind, names in empty.items() if kind not in ("thing groups", "iot policies")}
    # When a stack of the same name is created again
    with pytest.raises(
        AlreadyExistsError, match=f"'AWS::IoT::ThingGroup' with identifier '{QUARANTINE_GROUP}'"
    ):
        sb.deploy(TEMPLATE, stack_name=STACK)
    # Then it fails on the retained group, and its rollback leaves nothing but what was there before
    assert inventory(sb) == after_delete
    # And once the retained resources are deleted by hand, the stack can be created again
    delete_quarantine_by_hand(sb)
    stack = sb.deploy(TEMPLATE, stack_name=STACK)
    assert stack["QuarantineThingGroup"] == QUARANTINE_GROUP


def test_a_failed_first_create_rolls_back_its_retain_except_on_create_resources(sb: Sandbox) -> None:
    # Given an account where the stack's last resource fails to create
    before = inventory(sb)
    sb.faults.add("cloudwatch", "PutDashboard", error="LimitExceededFault")
    # When the stack is created
    with pytest.raises(DeployError, match="LimitExceeded"):
        sb.deploy(TEMPLATE, stack_name=STACK)
    # Then the rollback deletes everything the create made, the RetainExceptOnCreate quarantine too
    assert inventory(sb) == before
    # And a retry under the same name succeeds
    stack = sb.deploy(TEMPLATE, stack_name=STACK)
    assert stack["QuarantinePolicy"] == QUARANTINE_POLICY


def test_a_topic_the_template_names_fails_when_the_account_already_has_it(sb: Sandbox) -> None:
    # Given a topic made by hand with the name the template gives its reports topic
    # (SNS CreateTopic would return it; CloudFormation's provider looks first and refuses)
    arn = sb.client("sns").create_topic(Name=f"{STACK}-remediation-reports")["TopicArn"]
    before = inventory(sb)
    # When the stack is created
    with pytest.raises(
        AlreadyExistsError, match=f"'AWS::SNS::Topic' with identifier '{STACK}-remediation-reports'"
    ):
        sb.deploy(TEMPLATE, stack_name=STACK)
    # Then the topic is untouched and nothing of the stack is left
    assert inventory(sb) == before
    assert arn in inventory(sb)["topics"]


def test_deleting_a_stack_that_does_not_exist_is_a_clear_error(sb: Sandbox) -> None:
    with pytest.raises(DeployError, match=f"stack {STACK} does not exist"):
        sb.delete(STACK)


def _retained_queue_template(tmp_path: Any, policy: str) -> Any:
    template = tmp_path / "template.yaml"
    template.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Kept:\n"
        "    Type: AWS::SQS::Queue\n"
        f"    DeletionPolicy: {policy}\n"
        "    Properties: {QueueName: kept}\n"
        "  Clash:\n"
        "    Type: AWS::SNS::Topic\n"
        "    DependsOn: Kept\n"
        "    Properties: {TopicName: taken}\n"
    )
    return template


@pytest.mark.parametrize(
    ("policy", "kept"), [("Retain", True), ("RetainExceptOnCreate", False), ("Delete", False)]
)
def test_a_rollback_keeps_only_retain_resources(sb: Sandbox, tmp_path: Any, policy: str, kept: bool) -> None:
    # Given a topic name already taken, so the create fails after the queue exists
    sb.client("sns").create_topic(Name="taken")
    # When the stack is created
    with pytest.raises(AlreadyExistsError):
        sb.deploy(_retained_queue_template(tmp_path, policy), stack_name="retained")
    # Then the queue survives the rollback only with DeletionPolicy Retain
    queues = sb.client("sqs").list_queues().get("QueueUrls", [])
    assert any(url.endswith("/kept") for url in queues) is kept
