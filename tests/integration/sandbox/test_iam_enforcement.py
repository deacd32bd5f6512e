"""IAM in the sandbox, call by call: what a role session may do, the error the service answers with
when it may not, and the key policy's say over an encrypted topic."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from sandbox import Sandbox
from sandbox.iam.principals import acting_as, role_session

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.001) as sandbox:
        yield sandbox


def encrypted_topic(sb: Sandbox) -> tuple[str, str]:
    """A topic encrypted with a key whose policy only delegates to the account's IAM policies."""
    key = sb.client("kms").create_key(
        Policy=policy({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"})
    )["KeyMetadata"]["Arn"]
    topic = sb.client("sns").create_topic(Name="reports", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    return topic, key


def publisher(sb: Sandbox, *statements: dict[str, object]) -> str:
    iam = sb.client("iam")
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    arn = iam.create_role(RoleName="publisher", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="publisher", PolicyName="p", PolicyDocument=policy(*statements))
    return str(arn)


def publish_as(sb: Sandbox, role: str, topic: str) -> None:
    with acting_as(role_session(role, "test")):
        sb.client("sns").publish(TopicArn=topic, Message="hello")


def test_a_publisher_without_the_topics_key_gets_kms_access_denied(sb: Sandbox) -> None:
    topic, key = encrypted_topic(sb)
    role = publisher(sb, {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic})

    with pytest.raises(ClientError) as refused:
        publish_as(sb, role, topic)

    assert refused.value.response["Error"]["Code"] == "KMSAccessDenied"
    assert f"kms:GenerateDataKey on resource: {key}" in refused.value.response["Error"]["Message"]
    [call] = sb.calls.of("sns", "Publish")
    assert (call.outcome, call.caller) == (
        "KMSAccessDenied",
        "arn:aws:sts::123456789012:assumed-role/publisher/test",
    )


def test_the_same_publisher_with_the_key_through_sns_publishes(sb: Sandbox) -> None:
    topic, key = encrypted_topic(sb)
    role = publisher(
        sb,
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        {
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
        },
    )

    publish_as(sb, role, topic)

    assert [call.outcome for call in sb.calls.of("sns", "Publish")] == ["ok"]
    assert sb.iam.denials == []


def test_an_explicit_deny_in_the_topic_policy_beats_the_identity_policy(sb: Sandbox) -> None:
    topic = sb.client("sns").create_topic(Name="plain")["TopicArn"]
    role = publisher(sb, {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic}
    sb.client("sns").set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy(deny))

    with pytest.raises(ClientError) as refused:
        publish_as(sb, role, topic)

    assert refused.value.response["Error"]["Code"] == "AuthorizationError"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "with an explicit deny in a resource-based policy" in refused.value.response["Error"]["Message"]


def test_the_operators_own_calls_are_not_evaluated(sb: Sandbox) -> None:
    topic, _ = encrypted_topic(sb)

    sb.client("sns").publish(TopicArn=topic, Message="from the test itself")

    assert sb.iam.denials == []
