"""Service deliveries IAM refused, shown as AWS shows them: never to the sender, but as a failure
metric of the delivering service (and, in the sandbox, an entry in the call log).

- EventBridge: `FailedInvocations` in AWS/Events, dimension RuleName (EventBridge user guide,
  "Monitoring Amazon EventBridge").
- SNS: `NumberOfNotificationsFailed` in AWS/SNS, dimension TopicName; a client-side failure moves the
  message to the subscription's dead-letter queue when it has one (SNS developer guide, "Amazon SNS
  dead-letter queues": client-side errors, such as a missing permission, are not retried).
- CloudWatch alarm actions: the alarm's history records the failed action (an entry here).
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.faults import ApiCall, CallLog
from sandbox.iam.documents import Arn

SERVICE_METRICS: Final = {
    "events.amazonaws.com": ("AWS/Events", "FailedInvocations", "RuleName"),
    "sns.amazonaws.com": ("AWS/SNS", "NumberOfNotificationsFailed", "TopicName"),
    "cloudwatch.amazonaws.com": ("AWS/CloudWatch", "AlarmActionsFailed", "AlarmName"),
}


def record_failed_delivery(
    calls: CallLog, *, principal: str, operation: str, target: str, source_arn: str, code: str, status: int
) -> None:
    """One refused delivery by `principal` on behalf of `source_arn`: a call-log entry and the
    delivering service's failure metric, in the source's account and Region."""
    service = principal.split(".", 1)[0]
    calls.append(
        ApiCall(
            service,
            operation,
            {"Target": target, "SourceArn": source_arn},
            outcome=code,
            status=status,
            caller=principal,
        )
    )
    metric = SERVICE_METRICS.get(principal)
    if metric is None:
        return
    from moto.cloudwatch.models import cloudwatch_backends

    namespace, name, dimension = metric
    source = Arn.parse(source_arn)
    source_name = source.resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    datum: dict[str, Any] = {
        "MetricName": name,
        "Value": 1.0,
        "Unit": "Count",
        "Dimensions": [{"Name": dimension, "Value": source_name}],
    }
    cloudwatch_backends[source.account][source.region].put_metric_data(namespace, [datum])
