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
