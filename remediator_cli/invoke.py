"""A synchronous invocation of one of the stack's functions for a command (the sweep, the rollback): the
function works with the stack's identity, so the operator needs only lambda:InvokeFunction on it."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, explain
from remediator_cli.stack import Account


def invoke_function(
    account: Account, function: str, request: dict[str, Any], *, what: str, refused: Collection[str]
) -> Any:
    """The function's answer. Its error types in `refused` mean the request itself was wrong (exit 2);
    any other failure is `what` failing (exit 1)."""
    try:
        response = account.client("lambda").invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(request)
        )
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error, doing=f"invoking {function}", action="lambda:InvokeFunction", resource=function
        ) from error
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        failure = payload if isinstance(payload, dict) else {}
        kind, message = str(failure.get("errorType", "")), str(failure.get("errorMessage", payload))
        if kind in refused:
            raise OperatorError(message, Exit.BAD_INPUT)
        raise OperatorError(f"{what} failed ({kind or 'error'}): {message}", Exit.AWS_ERROR)
    return payload
