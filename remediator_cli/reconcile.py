"""`remediator reconcile`: the stack's reconciliation sweep, run now (a synchronous invocation of the
function the stack schedules, so on-demand and scheduled sweeps are the same code and role)."""

from __future__ import annotations

from typing import Any, Final

from remediator_cli.errors import Exit, OperatorError
from remediator_cli.invoke import invoke_function
from remediator_cli.stack import Account, Stack

FUNCTION_OUTPUT: Final = "ReconcileFunctionName"
# The function's errors that mean the request itself was wrong (days out of range), not AWS.
_REFUSED_REQUESTS: Final = frozenset({"ReconcileRequestError"})


def sweep(account: Account, stack: Stack, days: int) -> dict[str, Any]:
    """The sweep's report: audits seen, already decided, held, reconciled now, paused and errors."""
    function = stack.output(FUNCTION_OUTPUT)
    payload = invoke_function(account, function, {"days": days}, what="the sweep", refused=_REFUSED_REQUESTS)
    if not isinstance(payload, dict):
        raise OperatorError(f"the sweep answered {payload!r}, not a report", Exit.AWS_ERROR)
    return payload
