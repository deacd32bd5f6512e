"""SNS's deliveries to a subscribed function or queue, as IAM sees them: SNS acts as
sns.amazonaws.com, the target's resource policy (and an encrypted queue's key policy) must allow it,
and a refusal is a client-side error, which SNS does not retry but moves to the subscription's
dead-letter queue when it has one (SNS developer guide, "Amazon SNS dead-letter queues")."""

from __future__ import annotations

import json
from typing import Any, Final

from sandbox.iam.documents import Arn
from sandbox.iam.enforcement import Enforcement
from sandbox.iam.requests import WRITE_KEY_ACTIONS, Access

SNS: Final = "sns.amazonaws.com"


def _access(protocol: str, endpoint: str) -> Access:
    if protocol == "lambda":
        return Access("lambda:InvokeFunction", endpoint, "function")
    return Access("sqs:SendMessage", endpoint, "queue", key_actions=WRITE_KEY_ACTIONS)


def delivery_allowed(iam: Enforcement, subscription: Any, endpoint_arn: str, body: str) -> bool:
    """Whether SNS may deliver `body` to the subscription's endpoint; a refused message goes to the
    subscription's dead-letter queue if SNS may write there, and is lost otherwise."""
    topic_arn = subscription.topic.arn
    protocol = subscription.protocol
    operation = "Invoke" if protocol == "lambda" else "SendMessage"
    if iam.deliver(SNS, _access(protocol, endpoint_arn), source_arn=topic_arn, operation=operation):
        return True
    redrive = json.loads(subscription.attributes.get("RedrivePolicy") or "{}")
    queue_arn = redrive.get("deadLetterTargetArn")
    if queue_arn and iam.deliver(
        SNS, _access("sqs", queue_arn), source_arn=topic_arn, operation="SendMessage"
    ):
        from moto.sqs.models import sqs_backends

        queue = Arn.parse(queue_arn)
        sqs_backends[queue.account][queue.region].send_message(queue.resource, body)
    return False
