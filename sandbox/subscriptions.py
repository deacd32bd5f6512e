"""An SQS queue subscribed to an SNS topic as AWS requires it: SNS delivers only when the queue's
policy lets the topic send (SNS developer guide, "Subscribing an Amazon SQS queue to an Amazon SNS
topic"), which the sandbox enforces like AWS."""

from __future__ import annotations

import json
from typing import Any


def sns_may_send(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """The queue policy that lets `topic_arn` (and nothing else) deliver to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }


def subscribe_queue(sqs: Any, sns: Any, queue_url: str, topic_arn: str) -> str:
    """Lets the topic send to the queue, subscribes it with raw delivery and returns the queue's ARN."""
    queue_arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(sns_may_send(queue_arn, topic_arn))}
    )
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return queue_arn
