"""SNS topics, subscriptions and topic policies; SQS queues and queue policies."""

from __future__ import annotations

import json
from typing import Any

from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, tags


def sns_topic(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    fifo = text(p.get("FifoTopic", "false")) == "true"
    name = p.get("TopicName") or d.physical_name(logical_id, max_length=251 if fifo else 256)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attribute_names = (
        "DisplayName",
        "KmsMasterKeyId",
        "FifoTopic",
        "ContentBasedDeduplication",
        "SignatureVersion",
        "TracingConfig",
        "ArchivePolicy",
        "FifoThroughputScope",
    )
    attributes = {key: attribute_text(p[key]) for key in attribute_names if key in p}
    arn = d.client("sns").create_topic(Name=name, Attributes=attributes, Tags=tags(p))["TopicArn"]
    if "DataProtectionPolicy" in p:
        d.client("sns").put_data_protection_policy(
            ResourceArn=arn, DataProtectionPolicy=json.dumps(p["DataProtectionPolicy"])
        )
    for subscription in p.get("Subscription", []):
        d.client("sns").subscribe(
            TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
        )
    return Created(arn, {"TopicArn": arn, "TopicName": name})


def sns_topic_policy(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    topics = p.get("Topics") or [p["TopicArn"]]
    for topic in topics:
        d.client("sns").set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(p["PolicyDocument"])
        )
    return Created(d.physical_name(logical_id))


def sns_subscription(d: ResourceContext, _logical_id: str, p: dict[str, Any]) -> Created:
    attribute_names = (
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
    )
    attributes = {key: attribute_text(p[key]) for key in attribute_names if key in p}
    arn = d.client("sns").subscribe(
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Created(arn, {"Arn": arn})


def sqs_queue(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    fifo = text(p.get("FifoQueue", "false")) == "true"
    name = p.get("QueueName") or d.physical_name(logical_id, max_length=75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: attribute_text(value) for key, value in p.items() if key not in ("QueueName", "Tags")}
    tag_map = {tag["Key"]: tag["Value"] for tag in tags(p)}
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tag_map)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def sqs_queue_policy(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    for url in p["Queues"]:
        d.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
        )
    return Created(d.physical_name(logical_id))


def delete_sns_topic(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("sns").delete_topic(TopicArn=created.physical_id)


def delete_sns_topic_policy(d: ResourceContext, _created: Created, p: dict[str, Any]) -> None:
    # Deleting an AWS::SNS::TopicPolicy puts back the topic's default access policy (the one CreateTopic gives).
    for topic in p.get("Topics") or [p["TopicArn"]]:
        d.client("sns").set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(_default_topic_policy(topic))
        )


def _default_topic_policy(topic_arn: str) -> dict[str, Any]:
    """SNS's default topic access policy (Amazon SNS Developer Guide, "Example cases for Amazon SNS access
    control"): the owning account may use the topic."""
    account_id = topic_arn.split(":")[4]
    actions = [
        "GetTopicAttributes",
        "SetTopicAttributes",
        "AddPermission",
        "RemovePermission",
        "DeleteTopic",
        "Subscribe",
        "ListSubscriptionsByTopic",
        "Publish",
    ]
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [f"SNS:{action}" for action in actions],
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
            }
        ],
    }


def delete_sns_subscription(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("sns").unsubscribe(SubscriptionArn=created.physical_id)


def delete_sqs_queue(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("sqs").delete_queue(QueueUrl=created.physical_id)


def delete_sqs_queue_policy(d: ResourceContext, _created: Created, p: dict[str, Any]) -> None:
    for url in p["Queues"]:
        d.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
