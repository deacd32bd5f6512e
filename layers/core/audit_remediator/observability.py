"""One Logger and Metrics for the service, and Powertools' Tracer only when a setting asks for it.

Names are fixed here rather than left to POWERTOOLS_* variables, so the dashboard and alarms in
template.yaml and every way of running the handler (Lambda, sandbox, tests) agree on them.
"""

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "iot-audit-remediator"
METRICS_NAMESPACE = "IoTAuditRemediator"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


@cache
def tracer() -> "Tracer":
    """Constructing Tracer imports the X-Ray SDK (most of the cold import's cost), so it is built on
    first use, and only used when TRACE_AWS_CALLS asks for subsegments of the AWS calls. Lambda's
    active tracing records every invocation without it."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)
