"""`remediator reconcile`: the stack's reconciliation sweep, run now (a synchronous invocation of the
function the stack schedules, so on-demand and scheduled sweeps are the same code and role)."""

from __future__ import annotations

import json
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, explain
from remediator_cli.stack import Account, Stack

FUNCTION_OUTPUT: Final = "ReconcileFunctionName"
# The function's errors that mean the request itself was wrong (days out of range), not AWS.
_REFUSED_REQUESTS: Final = frozenset({"ReconcileRequestError"})


def sweep(account: Account, stack: Stack, days: int) -> dict[str, Any]:
    """The sweep's report: audits seen, already decided, held, reconciled now, paused and errors."""
    function = stack.output(FUNCTION_OUTPUT)
    try:
        response = account.client("lambda").invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps({"days": days})
        )
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error, doing=f"invoking {function}", action="lambda:InvokeFunction", resource=function
        ) from error
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        failure = payload if isinstance(payload, dict) else {}
        kind, message = str(failure.get("errorType", "")), str(failure.get("errorMessage", payload))
        if kind in _REFUSED_REQUESTS:
            raise OperatorError(message, Exit.BAD_INPUT)
        raise OperatorError(f"the sweep failed ({kind or 'error'}): {message}", Exit.AWS_ERROR)
    if not isinstance(payload, dict):
        raise OperatorError(f"the sweep answered {payload!r}, not a report", Exit.AWS_ERROR)
    return payload
