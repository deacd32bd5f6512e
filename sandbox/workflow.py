"""The workflow test harness: the real template and the real ASL in a sandbox, with audits and findings
seeded in the emulator. The workflow tests and the benchmarks use it:

    with Sandbox(time_scale=TIME_SCALE) as sb:
        wf = Workflow(sb, sb.deploy(TEMPLATE, parameters=PARAMETERS))
        audit = wf.seed_audit({"LOGGING_DISABLED_CHECK": [{"account": sb.account_id}]})
        outcome = wf.deliver(wf.audit_notification(audit))
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sandbox.deployer import Stack
from sandbox.device_defender import SeededAudit
from sandbox.device_defender.mitigation import finding_message
from sandbox.device_defender.state import Finding
from sandbox.executions import ExecutionResult, execution_arn
from sandbox.lambdas import sns_lambda_event
from sandbox.lifecycle import Sandbox
from sandbox.subscriptions import subscribe_queue

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "remediation.asl.json"
# Sandbox time runs 1000x faster than the wall clock: a 15 s poll wait takes 15 ms.
TIME_SCALE = 0.001
PARAMETERS = {"RemediationMode": "Enforce", "ManageAccountAuditConfiguration": "true"}


class Workflow:
    """Runs RemediationStateMachine of a stack deployed from template.yaml and inspects what it did."""

    def __init__(self, sandbox: Sandbox, stack: Stack) -> None:
        self.sb = sandbox
        self.stack = stack
        self._subscription_arn: str | None = None
        self._reports_queue = ""

    @property
    def state_machine_arn(self) -> str:
        return self.stack.physical_ids["RemediationStateMachine"]

    @property
    def prefix(self) -> str:
        return f"{self.stack.name}-"

    def action(self, logical_id: str) -> str:
        return self.prefix + logical_id

    def execution_arn(self, name: str) -> str:
        return execution_arn(self.state_machine_arn, name)

    def start(self, plan: Mapping[str, Any], name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        with self.sb.calls.pause():
            started = self.sb.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(plan)
            )
        return str(started["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60.0) -> ExecutionResult:
        return self.sb.wait_for_execution(execution_arn, timeout=timeout)

    def executions(self) -> list[str]:
        """The ARNs of every execution of the stack's state machine so far."""
        with self.sb.calls.pause():
            pages = (
                self.sb.client("stepfunctions")
                .get_paginator("list_executions")
                .paginate(stateMachineArn=self.state_machine_arn)
            )
            return [execution["executionArn"] for page in pages for execution in page["executions"]]

    def run(self, plan: Mapping[str, Any], name: str | None = None, timeout: float = 60.0) -> ExecutionResult:
        return self.wait(self.start(plan, name), timeout)

    # --- the emulator -------------------------------------------------------------------------------

    def seed_audit(
        self,
        findings: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        reason_codes: Mapping[str, str] | None = None,
        additional_info: Mapping[str, str] | None = None,
    ) -> SeededAudit:
        """A COMPLETED audit with the given findings (check -> resource identifiers), seeded into the
        emulator: large fleets need no IoT resources this way."""
        seeded: SeededAudit = self.sb.emulator.seed_audit(
            findings,
            reason_codes=reason_codes,
            additional_info=additional_info,
            reason="seeded by the workflow tests",
        )
        return seeded

    def cancel_running_tasks(self) -> None:
        """Frees the emulator's in-progress slots (10, like the service) for the next test."""
        iot = self.sb.client("iot")
        with self.sb.calls.pause():
            for task_id, task in self.mitigation_tasks().items():
                if task.status == "IN_PROGRESS":
                    iot.cancel_audit_mitigation_actions_task(taskId=task_id)

    def mitigation_tasks(self) -> dict[str, Any]:
        return dict(self.sb.emulator.mitigation_tasks())

    def findings(self, audit: SeededAudit, check: str) -> list[Finding]:
        return [self.sb.emulator.finding(finding_id) for finding_id in audit.ids(check)]

    def device(self, name: str) -> dict[str, str]:
        """A thing with its own active certificate: the resource a device-certificate finding names."""
        iot = self.sb.client("iot")
        with self.sb.calls.pause():
            certificate = iot.create_keys_and_certificate(setAsActive=True)
            iot.create_thing(thingName=name)
            iot.attach_thing_principal(thingName=name, principal=certificate["certificateArn"])
        return {"deviceCertificateId": certificate["certificateId"]}

    # --- the handler --------------------------------------------------------------------------------

    def audit_notification(self, audit: SeededAudit) -> dict[str, Any]:
        """The audit-completion message Device Defender publishes for this audit (reference §5.1)."""
        message: dict[str, Any] = self.sb.emulator.audit_notification(audit.task_id)
        return message

    def finding_notification(self, finding: Finding) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(finding_message(finding))
        return message

    def sns_event(self, message: Mapping[str, Any], message_id: str | None = None) -> dict[str, Any]:
        topic_arn = self.stack.physical_ids["AuditEventsTopic"]
        if self._subscription_arn is None:
            with self.sb.calls.pause():
                subscriptions = self.sb.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)
            self._subscription_arn = subscriptions["Subscriptions"][0]["SubscriptionArn"]
        event: dict[str, Any] = sns_lambda_event(
            subscription_arn=self._subscription_arn,
            topic_arn=topic_arn,
            message=json.dumps(message),
            message_id=message_id or str(uuid.uuid4()),
            subject=None,
            message_attributes={},
            region=self.sb.region,
        )
        return event

    def deliver(self, message: Mapping[str, Any], message_id: str | None = None) -> dict[str, Any]:
        """One SNS delivery to AuditEventsFunction, run to its result."""
        outcome: dict[str, Any] = self.sb.invoke("AuditEventsFunction", self.sns_event(message, message_id))
        return outcome

    # --- records ------------------------------------------------------------------------------------

    def history(self, audit_task_id: str) -> dict[str, dict[str, Any]]:
        """RemediationTable items of one audit by sort key, the JSON attributes decoded."""
        table = self.stack.physical_ids["RemediationTable"]
        with self.sb.calls.pause():
            pages = (
                self.sb.client("dynamodb")
                .get_paginator("query")
                .paginate(
                    TableName=table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"AUDIT#{audit_task_id}"}},
                )
            )
            items = [item for page in pages for item in page["Items"]]
        decoded = {}
        for item in items:
            plain = {key: next(iter(value.values())) for key, value in item.items()}
            for key in ("outcome", "report"):
                if key in plain:
                    plain[key] = json.loads(plain[key])
            decoded[plain["sk"]] = plain
        return decoded

    def subscribe_reports(self) -> None:
        """An SQS queue on RemediationReportsTopic, read by `reports()`."""
        with self.sb.calls.pause():
            sqs = self.sb.client("sqs")
            self._reports_queue = sqs.create_queue(QueueName=f"{self.stack.name}-reports-reader")["QueueUrl"]
            subscribe_queue(
                sqs,
                self.sb.client("sns"),
                self._reports_queue,
                self.stack.physical_ids["RemediationReportsTopic"],
            )

    def reports(self, at_least: int = 0, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The messages that reached RemediationReportsTopic since the last call (waiting for `at_least`:
        EventBridge reports an execution's end after DescribeExecution already shows it)."""
        if not self._reports_queue:
            raise RuntimeError("call subscribe_reports() before reports()")
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        with self.sb.calls.pause():
            sqs = self.sb.client("sqs")
            while True:
                batch = sqs.receive_message(QueueUrl=self._reports_queue, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                for message in batch:
                    messages.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self._reports_queue, ReceiptHandle=message["ReceiptHandle"])
                if not batch and (len(messages) >= at_least or time.monotonic() > deadline):
                    return messages
                if not batch:
                    time.sleep(0.01)

    def start_calls(self) -> list[Any]:
        return self.sb.calls.of("iot", "StartAuditMitigationActionsTask")


def task(
    target: Mapping[str, Any],
    mapping: Mapping[str, list[str]],
    *,
    mode: str = "enforce",
    task_id: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """One planned mitigation task, shaped as the handler plans it."""
    unique = uuid.uuid4().hex
    return {
        "taskId": task_id or f"task-{unique}",
        "clientRequestToken": token or f"token-{unique}",
        "mode": mode,
        "target": dict(target),
        "auditCheckToActionsMapping": dict(mapping),
        "checks": sorted(mapping),
        "affectedResources": len(target.get("findingIds", [])) or 1,
    }


def audit_plan(audit_task_id: str, *tasks: Mapping[str, Any], capped: Sequence[Any] = ()) -> dict[str, Any]:
    return {
        "kind": "audit",
        "accountId": "123456789012",
        "auditTaskId": audit_task_id,
        "rulesVersion": "testrules001",
        "remediationMode": "Enforce",
        "tasks": [dict(t) for t in tasks],
        "capped": list(capped),
        "skipped": {},
    }


def events_of(result: ExecutionResult, *types: str) -> list[dict[str, Any]]:
    return [event for event in result.history if event["type"] in types]
