"""ApprovalExpiryFunction: a pull of the kill switch expires every pending approval."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.approval_expiry import expire_on_pull, expiry_services
from audit_remediator.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return expire_on_pull(event, expiry_services())
