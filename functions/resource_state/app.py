"""ResourceStateFunction: one page at a time, records what a mitigation task will change before it starts
(`phase: before`) and verifies the resulting state after it ends (`phase: after`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.observability import logger
from audit_remediator.resource_state_services import handle_page, resource_state_services


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return handle_page(event, resource_state_services())
