"""AuditEventsFunction: Device Defender notifications from AuditEventsTopic in, one execution per audit out."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.intake import handle_event, outcome_document
from audit_remediator.observability import logger, metrics
from audit_remediator.services import audit_events_services, once_config, traced


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    once_config().register_lambda_context(context)
    return outcome_document(handle_event(event, audit_events_services()))
