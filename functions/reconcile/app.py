"""ReconcileFunction: completed audits whose notification was never handled, decided now (daily, or on
demand from `remediator reconcile`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.observability import logger, metrics
from audit_remediator.reconcile import ReconcileRequest, reconcile
from audit_remediator.reconcile_services import reconcile_services
from audit_remediator.services import once_config


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    once_config().register_lambda_context(context)
    return reconcile(ReconcileRequest.from_event(event), reconcile_services()).as_json()
