"""Echoes what it was given and what it saw of its environment; fails when the event says so."""

import json
import os
from typing import Any

from echo_tools import EchoError, settings

INVOCATIONS: list[str] = []


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    INVOCATIONS.append(context.aws_request_id)
    message = event
    if isinstance(event, dict) and "Records" in event:
        message = json.loads(event["Records"][0]["Sns"]["Message"])
    if isinstance(message, dict) and message.get("fail"):
        raise EchoError(f"asked to fail: {message['fail']}")
    if isinstance(message, dict) and len(INVOCATIONS) <= message.get("failFirstInvocations", 0):
        raise EchoError(f"failing invocation {len(INVOCATIONS)} on purpose")
    return {
        "event": event,
        "settings": settings(),
        "invocationsInThisContainer": len(INVOCATIONS),
        "environment": {
            name: os.environ.get(name) for name in ("MODE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION")
        },
        "context": {
            "functionName": context.function_name,
            "memoryLimitInMB": context.memory_limit_in_mb,
            "invokedFunctionArn": context.invoked_function_arn,
            "remainingMillis": context.get_remaining_time_in_millis(),
            "requestId": context.aws_request_id,
        },
    }
