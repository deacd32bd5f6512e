"""What the emulator's check and mitigation tests share: clients, a topic read through a queue, findings."""

import json
from dataclasses import dataclass
from typing import Any

import boto3

from tests.conftest import REGION


@dataclass
class Clients:
    iot: Any
    sns: Any
    sqs: Any


def make_clients() -> Clients:
    return Clients(*(boto3.client(service, region_name=REGION) for service in ("iot", "sns", "sqs")))


def subscribed_queue(sns: Any, sqs: Any, name: str) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed; returns (topic ARN, queue URL)."""
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """The messages published to the queue's topic, decoded."""
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]


def audit_findings(iot: Any, task_id: str, **filters: Any) -> list[dict[str, Any]]:
    pages = iot.get_paginator("list_audit_findings").paginate(taskId=task_id, **filters)
    return [finding for page in pages for finding in page["findings"]]
