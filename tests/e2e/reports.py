"""A throw-away SQS queue subscribed to RemediationReportsTopic: how the suite sees the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sandbox.subscriptions import sns_may_send
from tests.e2e.drivers import Driver


@dataclass(frozen=True)
class ReportQueue:
    url: str
    subscription_arn: str


def subscribe(driver: Driver, name: str) -> ReportQueue:
    topic = driver.outputs["RemediationReportsTopicArn"]
    sqs = driver.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(sns_may_send(arn, topic))})
    subscription = driver.client("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )
    return ReportQueue(url, subscription["SubscriptionArn"])


def wait_for_report(driver: Driver, queue: ReportQueue, audit_task_id: str) -> dict[str, Any]:
    """The remediation report of this audit (other audits' reports are left alone)."""
    sqs = driver.client("sqs")
    deadline = time.monotonic() + driver.report_timeout
    while time.monotonic() < deadline:
        received = sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=driver.receive_wait_seconds
        )
        for message in received.get("Messages", []):
            body: dict[str, Any] = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            if body.get("auditTaskId") != audit_task_id:
                continue
            if body.get("kind") == "approval-request":
                # The run leaves the fleet's policy alone, as an operator rejecting the group would.
                driver.reject(
                    audit_task_id, body["taskId"], "end-to-end run: the throw-away fleet's policy stays"
                )
            if body.get("kind") == "remediation-report":
                return body
        driver.idle()
    raise TimeoutError(f"no remediation report for audit {audit_task_id} after {driver.report_timeout:.0f} s")


def remove(driver: Driver, queue: ReportQueue) -> None:
    driver.client("sns").unsubscribe(SubscriptionArn=queue.subscription_arn)
    driver.client("sqs").delete_queue(QueueUrl=queue.url)
