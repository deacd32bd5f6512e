"""Where the e2e suite runs: the sandbox (CI, `make test`) or a stack deployed in a real account
(`make e2e STACK_NAME=... AWS_PROFILE=...`). Both give the suite the same few things: the stack's
outputs, boto3 clients, an on-demand audit, and a way to let time pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from tests.e2e.fleet import Device

ROOT: Final = Path(__file__).resolve().parents[2]
# Sandbox time runs 1000x faster, as in the other sandbox suites: the audit and the 15 s polls take ms.
TIME_SCALE: Final = 0.001


class RefusedError(Exception):
    """The e2e suite will not run against this stack as asked; the message says what to change."""


class Driver(Protocol):
    outputs: dict[str, str]
    enforce: bool
    # Device Defender finds a shared certificate only from connections; only the sandbox can record them.
    records_connections: bool
    checks: tuple[str, ...]
    receive_wait_seconds: int
    report_timeout: float

    def client(self, service: str) -> Any: ...
    def reject(self, audit_task_id: str, group: str, reason: str) -> None: ...
    def connect(self, devices: Sequence[Device]) -> None: ...
    def start_audit(self) -> str: ...
    def idle(self) -> None: ...
    def retry(self, call: Callable[[], Any]) -> Any: ...
    def close(self) -> None: ...


class SandboxDriver:
    """template.yaml deployed into a fresh sandbox with RemediationMode=Enforce; the stack owns the
    account's audit configuration there, so its notifications reach AuditEventsTopic."""

    enforce = True
    records_connections = True
    checks = (
        "DEVICE_CERTIFICATE_SHARED_CHECK",
        "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
        "LOGGING_DISABLED_CHECK",
    )
    receive_wait_seconds = 0
    report_timeout = 45.0

    def __init__(self) -> None:
        from sandbox import Sandbox

        self.sb = Sandbox(time_scale=TIME_SCALE)
        self.sb.open()
        try:
            stack = self.sb.deploy(
                ROOT / "template.yaml",
                parameters={
                    "RemediationMode": "Enforce",
                    "ManageAccountAuditConfiguration": "true",
                    "LogLevel": "WARNING",
                },
            )
        except BaseException:
            self.sb.close()
            raise
        self.outputs = {key: str(value) for key, value in stack.outputs.items()}
        self.stack_name = stack.name

    def reject(self, audit_task_id: str, group: str, reason: str) -> None:
        """What `remediator reject` does, as the sandbox's operator."""
        from remediator_cli import approvals
        from remediator_cli.stack import Stack
        from sandbox.operator_account import SandboxAccount

        account = SandboxAccount(self.sb)
        stack = Stack(name=self.stack_name, region=account.region, outputs=self.outputs)
        approvals.decide(account, stack, audit_task_id, group, "reject", reason)

    def client(self, service: str) -> Any:
        return self.sb.client(service)

    def connect(self, devices: Sequence[Device]) -> None:
        emulator = self.sb.emulator
        # A day ago, as sandbox.fleet does: Device Defender sees connections only after a data delay.
        start = emulator.clock.now() - timedelta(hours=24)
        for device in devices:
            emulator.record_connection(
                device.thing_name,
                device.certificate_id,
                device.thing_name,
                start,
                start + timedelta(minutes=30),
            )

    def start_audit(self) -> str:
        return str(
            self.client("iot").start_on_demand_audit_task(targetCheckNames=list(self.checks))["taskId"]
        )

    def idle(self) -> None:
        self.sb.emulator.advance()
        time.sleep(0.01)

    def retry(self, call: Callable[[], Any]) -> Any:
        return call()

    def close(self) -> None:
        self.sb.close()


class AwsDriver:
    """A stack deployed with `sam deploy`, found by name with CloudFormation DescribeStacks.

    Its RemediationMode decides what an audit changes, so the driver refuses an Enforce stack unless
    ENFORCE=1 was given, and a DryRun stack when it was. The account's audit configuration must send
    notifications to the stack's AuditEventsTopic (ManageAccountAuditConfiguration=true does that).
    The audit leaves out LOGGING_DISABLED_CHECK: its remediation is account-wide, not the fleet's."""

    records_connections = False
    checks = ("DEVICE_CERTIFICATE_SHARED_CHECK", "IOT_POLICY_OVERLY_PERMISSIVE_CHECK")
    receive_wait_seconds = 20
    # An on-demand audit of two checks takes minutes; the workflow polls its tasks every 15 s.
    report_timeout = 1800.0

    def __init__(self, stack_name: str, *, enforce: bool, session: Any = None) -> None:
        import boto3

        self.session = session or boto3.session.Session()
        stack = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.stack_name = stack_name
        parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        mode = parameters.get("RemediationMode")
        if mode == "Enforce" and not enforce:
            raise RefusedError(
                f"stack {stack_name} remediates in Enforce mode: the e2e run would change its fleet and "
                "every other finding of its audit; run with ENFORCE=1 to allow that"
            )
        if enforce and mode != "Enforce":
            raise RefusedError(f"ENFORCE=1 was given but stack {stack_name} runs in {mode} mode")
        self.enforce = enforce
        self._check_audit_configuration()

    def _check_audit_configuration(self) -> None:
        configuration = self.client("iot").describe_account_audit_configuration()
        target = configuration.get("auditNotificationTargetConfigurations", {}).get("SNS", {})
        topic = self.outputs["AuditEventsTopicArn"]
        if target.get("targetArn") != topic or not target.get("enabled"):
            raise RefusedError(
                f"the account's audit notifications do not go to {topic}: deploy the stack with "
                "ManageAccountAuditConfiguration=true or point the audit configuration at it"
            )
        checks = configuration.get("auditCheckConfigurations", {})
        disabled = [check for check in self.checks if not checks.get(check, {}).get("enabled")]
        if disabled:
            raise RefusedError(f"the account's audit configuration does not enable {', '.join(disabled)}")

    def reject(self, audit_task_id: str, group: str, reason: str) -> None:
        """What `remediator reject` does, with the run's own credentials."""
        from remediator_cli import approvals
        from remediator_cli.stack import AwsAccount, Stack

        account = AwsAccount(self.session)
        stack = Stack(name=self.stack_name, region=account.region, outputs=self.outputs)
        approvals.decide(account, stack, audit_task_id, group, "reject", reason)

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def connect(self, devices: Sequence[Device]) -> None:
        """Nothing: no device of the throw-away fleet connects over MQTT, so the audit reports only its
        policy (see records_connections)."""

    def start_audit(self) -> str:
        return str(
            self.client("iot").start_on_demand_audit_task(targetCheckNames=list(self.checks))["taskId"]
        )

    def idle(self) -> None:
        time.sleep(5)

    def retry(self, call: Callable[[], Any]) -> Any:
        """IoT refuses a delete with DeleteConflictException until a detach has propagated."""
        conflict = self.client("iot").exceptions.DeleteConflictException
        for attempt in range(6):
            try:
                return call()
            except conflict:
                if attempt == 5:
                    raise
                time.sleep(2**attempt)
        return None

    def close(self) -> None:
        pass
