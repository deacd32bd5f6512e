"""SecurityHubSyncFunction: sets the Security Hub workflow status and note of Device Defender
findings, given their ids or one page of a group or task (see audit_remediator.securityhub_sync and
audit_remediator.securityhub_pages for who asks for which status)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.observability import logger
from audit_remediator.securityhub_services import handle, securityhub_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return handle(event, securityhub_settings())
