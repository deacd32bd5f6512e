"""SNS -> Lambda: a topic's delivery to a subscribed function, as the event SNS hands it, invoked
asynchronously (Lambda developer guide, "Invoking a Lambda function asynchronously": SNS invokes
functions asynchronously), once IAM allows it (sandbox.iam.sns_deliveries, which checks queues too)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.iam.enforcement import Enforcement
from sandbox.iam.sns_deliveries import delivery_allowed
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
            if (
                iam is not None
                and subscription.protocol == "sqs"
                and not delivery_allowed(iam, subscription, subscription.endpoint, message)
            ):
                return
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
        body = json.dumps(event["Records"][0]["Sns"])
        if iam is not None and not delivery_allowed(iam, subscription, spec.function_arn, body):
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
