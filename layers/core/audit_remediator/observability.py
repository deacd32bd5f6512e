"""One Logger, Metrics and Tracer for the service (POWERTOOLS_SERVICE_NAME / _METRICS_NAMESPACE)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
