"""RollbackFunction: restores what a mitigation task changed from its pre-state records, one page per
invocation (invoked by `remediator rollback`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.observability import logger
from audit_remediator.rollback_services import handle_rollback, rollback_services


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return handle_rollback(event, rollback_services())
