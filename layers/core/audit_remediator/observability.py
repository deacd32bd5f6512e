"""One Logger, Metrics and Tracer for the service.

Names are fixed here rather than left to POWERTOOLS_* variables, so the dashboard and alarms in
template.yaml and every way of running the handler (Lambda, sandbox, tests) agree on them.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "iot-audit-remediator"
METRICS_NAMESPACE = "IoTAuditRemediator"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
