"""QuarantineExpiryFunction: the quarantine timers due today (and on missed days) are re-checked against the
latest audits: released from the quarantine group, or extended and escalated (daily)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.observability import logger, metrics
from audit_remediator.quarantine_expiry import ExpiryRequest, sweep
from audit_remediator.quarantine_services import quarantine_expiry_services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return sweep(ExpiryRequest.from_event(event), quarantine_expiry_services()).as_json()
