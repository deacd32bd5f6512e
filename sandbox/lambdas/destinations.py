"""What Lambda sends to an asynchronous invocation's destination, and how it gets there.

The invocation record's shape and the EventBridge detail types are from AWS's "Capturing records of
Lambda asynchronous invocations" (Lambda developer guide, invocation-async-retain-records).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import boto3

from sandbox.lambdas.invocation import Invocation


def iso_now() -> str:
    """The current time as Lambda and SNS write it: ISO 8601, milliseconds, UTC as `Z`."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    attempts: int,
    request_payload: Any,
    invocation: Invocation | None,
) -> dict[str, Any]:
    """The record of one asynchronous event's fate; `invocation` is its last run, if it ran at all."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso_now(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": request_payload,
    }
    if invocation is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation.error is not None:
            response["functionError"] = "Unhandled"
        record["responseContext"] = response
        record["responsePayload"] = (
            invocation.result if invocation.error is None else invocation.error_payload()
        )
    return record


def deliver_to_destination(
    destination: str,
    record: dict[str, Any],
    *,
    region: str,
    invoke_async: Callable[[str, Any], object],
) -> None:
    """Sends an asynchronous invocation record to an SQS, SNS, Lambda or EventBridge destination."""
    parts = destination.split(":")
    service = parts[2] if len(parts) > 5 else ""
    body = json.dumps(record)
    if service == "sqs":
        # Lambda sends by the queue's ARN; the role needs sqs:SendMessage only, not sqs:GetQueueUrl.
        url = f"https://sqs.{parts[3]}.amazonaws.com/{parts[4]}/{parts[5]}"
        boto3.client("sqs", region_name=region).send_message(QueueUrl=url, MessageBody=body)
    elif service == "sns":
        boto3.client("sns", region_name=region).publish(TopicArn=destination, Message=body)
    elif service == "lambda":
        invoke_async(destination, record)
    elif service == "events":
        boto3.client("events", region_name=region).put_events(
            Entries=[
                {
                    "Source": "lambda",
                    "DetailType": "Lambda Function Invocation Result - "
                    + ("Success" if record["requestContext"]["condition"] == "Success" else "Failure"),
                    "Detail": body,
                    "EventBusName": destination,
                }
            ]
        )
    else:
        raise ValueError(f"unsupported asynchronous invocation destination {destination!r}")
