"""A delivery storm: distinct audit notifications, each delivered twice through SNS's asynchronous
invocation, while most StartExecution and idempotency PutItem calls are throttled.

What it shows: every audit ends either with exactly one execution, or in the function's on-failure
queue after Lambda's retries; none is lost. The integration suite runs it small; `make bench` at 1,000.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox import Sandbox, Stack
from sandbox.lambdas import sns_lambda_event

FUNCTION = "AuditEventsFunction"
# A check whose default rule has no cap: every audit plans one task. Each audit is seeded into the
# emulator, which also writes its notification (the message Device Defender publishes).
CHECK = "LOGGING_DISABLED_CHECK"


@dataclass(frozen=True, slots=True)
class StormResult:
    audits: int
    deliveries: int
    executed: int
    in_failure_queue: int
    executed_and_in_failure_queue: int
    kept_after_retries: int
    kept_too_old: int
    lost: int
    executions_per_audit_max: int
    throttled_calls: int

    def as_dict(self) -> dict[str, int]:
        return {
            "audits": self.audits,
            "deliveries": self.deliveries,
            "executed": self.executed,
            "inFailureQueue": self.in_failure_queue,
            "executedAndInFailureQueue": self.executed_and_in_failure_queue,
            "keptAfterRetries": self.kept_after_retries,
            "keptTooOld": self.kept_too_old,
            "lost": self.lost,
            "executionsPerAuditMax": self.executions_per_audit_max,
            "throttledCalls": self.throttled_calls,
        }


def _drain(sb: Sandbox, queue_url: str) -> list[dict[str, Any]]:
    sqs = sb.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _audit_of(failure_record: dict[str, Any]) -> str:
    """The audit task id inside an on-failure record (Lambda's destination format: requestPayload)."""
    message = json.loads(failure_record["requestPayload"]["Records"][0]["Sns"]["Message"])
    return str(message["taskId"])


def delivery_storm(
    sb: Sandbox, stack: Stack, *, audits: int, throttled_share: float = 0.8, seed: int = 7
) -> StormResult:
    """Deliver `audits` distinct notifications twice each, asynchronously, under throttling; settle."""
    chance = random.Random(seed)
    topic_arn = stack.physical_ids["AuditEventsTopic"]
    with sb.calls.pause():
        subscription = sb.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"][0]
    seeded = [sb.emulator.seed_audit({CHECK: [{"account": sb.account_id}]}) for _ in range(audits)]
    task_ids = [audit.task_id for audit in seeded]
    idempotency_table = stack.physical_ids["IdempotencyTable"]
    start_faults = sb.faults.add(
        "stepfunctions",
        "StartExecution",
        error="ThrottlingException",
        times=None,
        when=lambda _: chance.random() < throttled_share,
    )
    put_faults = sb.faults.add(
        "dynamodb",
        "PutItem",
        error="ProvisionedThroughputExceededException",
        times=None,
        when=lambda params: (
            params.get("TableName") == idempotency_table and chance.random() < throttled_share
        ),
    )
    try:
        for task_id in task_ids:
            for _ in range(2):
                event = sns_lambda_event(
                    subscription_arn=subscription["SubscriptionArn"],
                    topic_arn=topic_arn,
                    message=json.dumps(sb.emulator.audit_notification(task_id)),
                    message_id=str(uuid.UUID(int=chance.getrandbits(128))),
                    subject=None,
                    message_attributes={},
                    region=sb.region,
                )
                sb.invoke_async(FUNCTION, event)
        sb.settle(timeout=max(120.0, audits * 1.0))
    finally:
        sb.faults.clear()
    with sb.calls.pause():
        pages = (
            sb.client("stepfunctions")
            .get_paginator("list_executions")
            .paginate(stateMachineArn=stack.physical_ids["RemediationStateMachine"])
        )
        names = [execution["name"] for page in pages for execution in page["executions"]]
        records = _drain(sb, stack.physical_ids["AuditEventsFailureQueue"])
    failed = Counter(_audit_of(record) for record in records)
    # Lambda's destination record says why: RetriesExhausted, or EventAgeExceeded (MaximumEventAgeInSeconds).
    conditions = Counter(str(record["requestContext"]["condition"]) for record in records)
    per_audit = Counter(name.split("-")[1] for name in names if name.startswith("audit-"))
    executed = {task_id for task_id in task_ids if per_audit[task_id]}
    in_failure_queue = {task_id for task_id in task_ids if failed[task_id]}
    return StormResult(
        audits=audits,
        deliveries=2 * audits,
        executed=len(executed),
        in_failure_queue=len(in_failure_queue),
        executed_and_in_failure_queue=len(executed & in_failure_queue),
        kept_after_retries=conditions["RetriesExhausted"],
        kept_too_old=conditions["EventAgeExceeded"],
        lost=len(set(task_ids) - executed - in_failure_queue),
        executions_per_audit_max=max(per_audit.values(), default=0),
        throttled_calls=start_faults.fired + put_faults.fired,
    )
