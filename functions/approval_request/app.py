"""ApprovalRequestFunction: a group waiting for an operator's decision keeps its task token in
RemediationTable, and its approval request goes to the reports topic."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.approval_request import approval_services, request_approval
from audit_remediator.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return request_approval(event, approval_services())
