"""SNS -> Lambda: a topic's delivery to a subscribed function, as the event SNS hands it, invoked
asynchronously (Lambda developer guide, "Invoking a Lambda function asynchronously": SNS invokes
functions asynchronously)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.iam.documents import Arn
from sandbox.iam.enforcement import Enforcement
from sandbox.iam.requests import Access
from sandbox.lambdas.destinations import iso_now
from sandbox.lambdas.registry import FunctionSpec
from sandbox.patching import Patch, patch_attribute


def sns_lambda_event(
    *,
    subscription_arn: str,
    topic_arn: str,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: Mapping[str, Any],
    region: str,
) -> dict[str, Any]:
    """The event SNS hands to a subscribed function (one record per delivery)."""
    endpoint = f"https://sns.{region}.amazonaws.com"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": iso_now(),
                    "SignatureVersion": "1",
                    "Signature": "c2FuZGJveA==",
                    "SigningCertUrl": f"{endpoint}/SimpleNotificationService-sandbox.pem",
                    "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in message_attributes.items()
                    },
                },
            }
        ]
    }


def install_sns_delivery(
    patches: list[Patch],
    *,
    find: Callable[[str], FunctionSpec | None],
    invoke_async: Callable[[str, Any], object],
    region: str,
    iam: Enforcement | None = None,
) -> None:
    """Routes moto's deliveries to `lambda` subscriptions of the sandbox's functions to `invoke_async`
    (moto would run them in Docker); filter policies and per-protocol messages apply as in moto."""
    from moto.sns.models import Subscription

    original_publish = Subscription.__dict__["publish"]

    def publish(subscription: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        spec = find(subscription.endpoint) if subscription.protocol == "lambda" else None
        if spec is None:
            original_publish(subscription, message, message_id, *args, **kwargs)
            return
        arguments = _publish_arguments(args, kwargs)
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(arguments["message_attributes"], message):
            return
        if arguments["message_structure"] == "json":
            message = subscription._parse_message_structure(message, subscription.protocol)
        event = sns_lambda_event(
            subscription_arn=subscription.arn,
            topic_arn=subscription.topic.arn,
            message=message,
            message_id=message_id,
            subject=arguments["subject"],
            message_attributes=arguments["message_attributes"] or {},
            region=region,
        )
        if iam is not None and not _invoke_allowed(iam, subscription, spec, event):
            return
        invoke_async(spec.function_name, event)

    patch_attribute(patches, Subscription, "publish", publish)


def _publish_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """moto's Subscription.publish arguments after the message id, by name."""
    names = ("subject", "message_attributes", "group_id", "deduplication_id", "message_structure")
    arguments: dict[str, Any] = dict.fromkeys(names)
    arguments.update(zip(names, args, strict=False))
    arguments.update(kwargs)
    return arguments


def _invoke_allowed(iam: Enforcement, subscription: Any, spec: FunctionSpec, event: dict[str, Any]) -> bool:
    """SNS invokes the function as sns.amazonaws.com with aws:SourceArn the topic (the function
    policy AWS::Lambda::Permission writes); a refusal is a client-side error, which SNS does not
    retry but moves to the subscription's dead-letter queue, if it has one (SNS developer guide,
    "Amazon SNS dead-letter queues")."""
    topic_arn = subscription.topic.arn
    access = Access("lambda:InvokeFunction", spec.function_arn, "function")
    if iam.deliver("sns.amazonaws.com", access, source_arn=topic_arn, operation="Invoke"):
        return True
    redrive = json.loads(subscription.attributes.get("RedrivePolicy") or "{}")
    queue_arn = redrive.get("deadLetterTargetArn")
    if queue_arn:
        to_queue = Access(
            "sqs:SendMessage", queue_arn, "queue", key_actions=("kms:GenerateDataKey", "kms:Decrypt")
        )
        if iam.deliver("sns.amazonaws.com", to_queue, source_arn=topic_arn, operation="SendMessage"):
            from moto.sqs.models import sqs_backends

            queue = Arn.parse(queue_arn)
            sqs_backends[queue.account][queue.region].send_message(
                queue.resource, json.dumps(event["Records"][0]["Sns"])
            )
    return False
