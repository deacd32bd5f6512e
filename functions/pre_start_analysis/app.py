"""PreStartAnalysisFunction: before the workflow starts anything, each group's findings, devices,
exclusions and attempts are read from IoT and RemediationTable."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from audit_remediator.analysis_services import analyse, analysis_services
from audit_remediator.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del context  # the Logger decorator reads it
    return analyse(event, analysis_services())
