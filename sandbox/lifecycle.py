"""The Sandbox: a local AWS account opened and closed around a test, a demo or a replay, and the
ways into it (deploy, invoke, wait, settle)."""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import boto3

from sandbox.alarm_actions import AlarmActions
from sandbox.clock import SandboxClock
from sandbox.deployer import DeployError, Deployment, Stack
from sandbox.dynamodb_writes import AtomicItemWrites
from sandbox.environment import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    Saved,
    default_session,
    isolate_environment,
    restore_environment,
)
from sandbox.eventbridge import EventBridgeTargets
from sandbox.execution_events import ExecutionStatusEvents
from sandbox.executions import (
    ExecutionResult,
    execution_history,
    is_running,
    moto_executions,
    stop_executions,
    wait_for_end,
)
from sandbox.faults import CallLog, FaultInjector
from sandbox.iam.enforcement import Enforcement
from sandbox.iam.requests import Where
from sandbox.iam.service_contexts import Readings
from sandbox.iot_delete_checks import IoTDeleteChecks
from sandbox.lambda_clock import handlers_read
from sandbox.lambdas import LambdaRunner
from sandbox.ssm_events import ParameterStoreEvents
from sandbox.stepfunctions import StepFunctionsRuntime

LOG = logging.getLogger(__name__)

DEFAULT_STACK_NAME: Final = "iot-audit-remediator"


class Sandbox:
    """A local AWS account (moto + Device Defender emulator) with the template's resources in it.

    Only one sandbox can be open per process (moto's mock and the hooks are process-wide).
    """

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        emulator: bool = True,
        emulator_options: Mapping[str, Any] | None = None,
        enforce_iam: bool = True,
        readings: Readings | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.region = region
        self.account_id = account_id
        self.clock = SandboxClock(time_scale)
        self.calls = CallLog()
        self.faults = FaultInjector(self.calls, clock=self.clock)
        # IAM as AWS enforces it, for every caller but the operator (see sandbox.iam).
        self.iam = Enforcement(
            Where("aws", region, account_id),
            enabled=enforce_iam,
            readings=readings or Readings(),
            calls=self.calls,
        )
        self.lambdas = LambdaRunner(region=region, account_id=account_id, time_scale=time_scale)
        self.lambdas.before_invoke.append(handlers_read(self.clock))
        self.lambdas.iam = self.iam
        self.stepfunctions = StepFunctionsRuntime(self.clock)
        self.emulator: Any = None
        self.stacks: dict[str, Stack] = {}
        self._deployments: dict[str, Deployment] = {}
        self._event_targets = EventBridgeTargets(
            region=region,
            calls=self.calls,
            invoke_async=self.lambdas.invoke_async,
            is_open=lambda: self._open,
            iam=self.iam,
        )
        self._status_events = ExecutionStatusEvents(region=region, account_id=account_id, calls=self.calls)
        self._iot_delete_checks = IoTDeleteChecks()
        self._parameter_events = ParameterStoreEvents(calls=self.calls, is_open=lambda: self._open)
        self._alarm_actions = AlarmActions(self.iam)
        self._item_writes = AtomicItemWrites()
        self._want_emulator = emulator
        self._emulator_options = dict(emulator_options or {})
        self._mock: Any = None
        self._clients: dict[str, Any] = {}
        self._saved_environment: Saved = {}
        self._open = False

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        from moto import mock_aws

        from sandbox import faults

        if self._open:
            raise RuntimeError("the sandbox is already open")
        # Every hook goes into botocore's BUILTIN_HANDLERS before the session the clients come from.
        faults.install_hooks()
        emulator_class = self._emulator_class() if self._want_emulator else None
        self._saved_environment = isolate_environment(region=self.region, account_id=self.account_id)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._open = True
        boto3.DEFAULT_SESSION = default_session(self.region)
        try:
            faults.activate(self.faults, self.iam)
            self.stepfunctions.install()
            self.lambdas.install()
            self._event_targets.install()
            self._status_events.install()
            self._iot_delete_checks.install()
            self._parameter_events.install()
            self._alarm_actions.install()
            self._item_writes.install()
            if emulator_class is not None:
                self.emulator = emulator_class(
                    clock=self.clock, account_id=self.account_id, region=self.region, **self._emulator_options
                )
                self.emulator.authority = self.iam
                self.emulator.install()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        from sandbox import faults

        if not self._open:
            return
        # Every step runs even if one fails: a patch left installed would act in the next sandbox.
        steps: list[Callable[[], None]] = [self._stop_executions, self.lambdas.close]
        if self.emulator is not None:
            steps.append(self.emulator.uninstall)
        steps += [
            self._status_events.stop_reporting,
            self._status_events.uninstall,
            self._iot_delete_checks.uninstall,
            self._parameter_events.uninstall,
            self._alarm_actions.uninstall,
            self._item_writes.uninstall,
            self._event_targets.uninstall,
            self.stepfunctions.uninstall,
            faults.deactivate,
        ]
        errors: list[BaseException] = []
        for step in steps:
            try:
                step()
            except Exception as error:
                LOG.exception("closing the sandbox: %s failed", getattr(step, "__name__", step))
                errors.append(error)
        self._open = False
        self._clients.clear()
        self._mock.stop()
        restore_environment(self._saved_environment)
        if errors:
            raise errors[0]

    @staticmethod
    def _emulator_class() -> Any:
        try:
            from sandbox.device_defender import DeviceDefenderEmulator
        except ImportError as error:
            LOG.warning("Device Defender emulator unavailable: %s", error)
            return None
        return DeviceDefenderEmulator

    # --- the stack --------------------------------------------------------------------------------

    def deploy(
        self,
        template: str | Path = "template.yaml",
        *,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
    ) -> Stack:
        """Creates the template's resources (as `sam deploy` would) and returns the stack."""
        self._require_open()
        if stack_name in self.stacks:
            raise DeployError(f"stack {stack_name} is already deployed in this sandbox")
        deployment = Deployment(
            template_path=Path(template),
            stack_name=stack_name,
            parameters=parameters or {},
            region=self.region,
            account_id=self.account_id,
            lambdas=self.lambdas,
            emulator_available=self.emulator is not None,
            iam=self.iam,
        )
        # Faults a test adds before deploying apply to the deploy's calls (a create that fails rolls back).
        with self.calls.pause(faults=True):
            stack = deployment.run()
        self.stacks[stack_name] = stack
        self._deployments[stack_name] = deployment
        return stack

    def delete(self, stack_name: str = DEFAULT_STACK_NAME) -> list[str]:
        """Deletes the stack (as `sam delete` would): its resources last created first, except those its
        DeletionPolicy retains (Retain, RetainExceptOnCreate), which stay in the account. Returns their logical ids."""
        self._require_open()
        if stack_name not in self._deployments:
            raise DeployError(f"stack {stack_name} does not exist in this sandbox")
        with self.calls.pause():
            kept = self._deployments[stack_name].delete()
        del self._deployments[stack_name]
        del self.stacks[stack_name]
        return kept

    @property
    def stack(self) -> Stack:
        """The stack deployed last."""
        if not self.stacks:
            raise LookupError("nothing deployed yet")
        return list(self.stacks.values())[-1]

    # --- running things ---------------------------------------------------------------------------

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client of the sandbox's Region (options as for boto3.client, e.g. config=)."""
        self._require_open()
        return boto3.client(service, region_name=self.region, **options)  # type: ignore[call-overload]

    def seed_fleet(self, scenario: str = "workshop") -> Any:
        """Seeds moto's IoT state and the emulator with a named fleet (sandbox.fleet.SCENARIOS) and
        returns what was seeded, including the resources each check must report."""
        self._require_open()
        if self.emulator is None:
            raise RuntimeError("seed_fleet needs the Device Defender emulator, which is not installed")
        from sandbox.fleet import seed_fleet

        return seed_fleet(scenario, emulator=self.emulator, iot=self.client("iot"))

    def invoke(self, function: str, event: Any, *, context: Any = None) -> Any:
        """Runs the function's handler in-process (RequestResponse) and returns its JSON result.
        `function` is a logical id, name or ARN. Raises LambdaFunctionError if the handler raised."""
        self._require_open()
        return self.lambdas.invoke(function, event, context=context)

    def invoke_async(self, function: str, event: Any) -> str:
        """Queues an Event invocation (retries, then the OnFailure destination); see settle()."""
        self._require_open()
        return self.lambdas.invoke_async(function, event)

    def wait_for_execution(self, execution_arn: str, *, timeout: float = 30.0) -> ExecutionResult:
        """Waits (real seconds) until the execution ends; returns DescribeExecution plus its history."""
        self._require_open()
        sfn = self.client("stepfunctions")
        with self.calls.pause():
            return wait_for_end(sfn, execution_arn, timeout=timeout, between_polls=self._poke_emulator)

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """GetExecutionHistory, every page, oldest first."""
        sfn = self.client("stepfunctions")
        with self.calls.pause():
            return execution_history(sfn, execution_arn)

    def run_execution(
        self,
        state_machine: str,
        execution_input: Any,
        *,
        name: str | None = None,
        timeout: float = 30.0,
    ) -> ExecutionResult:
        """StartExecution on a state machine (logical id, name or ARN) and wait for its end."""
        arn = self._state_machine_arn(state_machine)
        request: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(execution_input)}
        if name is not None:
            request["name"] = name
        with self.calls.pause():
            started = self.client("stepfunctions").start_execution(**request)
        return self.wait_for_execution(started["executionArn"], timeout=timeout)

    def settle(self, *, timeout: float = 30.0, executions: bool = True) -> None:
        """Waits (real seconds) until nothing is in flight: queued asynchronous invocations (SNS
        deliveries and their retries), running executions (unless executions=False), and the
        emulator's audits and mitigation tasks in progress (completed on sandbox time)."""
        self._require_open()
        deadline = time.monotonic() + timeout
        while True:
            busy = self._busy(executions=executions)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox not settled after {timeout} s: {'; '.join(busy)}")
            time.sleep(0.005)

    def _busy(self, *, executions: bool) -> list[str]:
        busy: list[str] = []
        work = self._emulator_work_in_progress()
        if work:
            busy.append(f"Device Defender work in progress: {work}")
        if not self.lambdas.idle:
            busy.append("asynchronous invocations queued or running")
        running = self.running_executions() if executions else []
        if running:
            busy.append(f"executions running: {running}")
        return busy

    def _emulator_work_in_progress(self) -> list[str]:
        """Audits and mitigation tasks IN_PROGRESS, asked through the API (which also lets the
        emulator complete whatever is due)."""
        if self.emulator is None:
            return []
        iot = self._clients.get("iot") or self._clients.setdefault("iot", self.client("iot"))
        end = self.clock.now() + datetime.timedelta(minutes=1)
        start = end - datetime.timedelta(days=89)
        with self.calls.pause():
            audits = iot.list_audit_tasks(startTime=start, endTime=end, taskStatus="IN_PROGRESS")["tasks"]
            tasks = iot.list_audit_mitigation_actions_tasks(
                startTime=start, endTime=end, taskStatus="IN_PROGRESS"
            )["tasks"]
        return [f"audit {a['taskId']}" for a in audits] + [f"mitigation task {t['taskId']}" for t in tasks]

    def running_executions(self) -> list[str]:
        return [execution.exec_arn for execution in self._executions() if is_running(execution)]

    def sleep(self, seconds: float) -> None:
        """Sleeps `seconds` of sandbox time (as Wait states do)."""
        self.clock.sleep(seconds)

    # --- internals --------------------------------------------------------------------------------

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("the sandbox is not open (use `with Sandbox() as sb:`)")

    def _poke_emulator(self) -> None:
        if self.emulator is not None:
            with self.calls.pause():
                self.emulator.advance()

    def _state_machine_arn(self, state_machine: str) -> str:
        if state_machine.startswith("arn:"):
            return state_machine
        for stack in reversed(list(self.stacks.values())):
            if stack.resource_types.get(state_machine) == "AWS::StepFunctions::StateMachine":
                return stack.physical_ids[state_machine]
        return f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:{state_machine}"

    def _executions(self) -> list[Any]:
        return moto_executions(self.account_id, self.region)

    def _stop_executions(self) -> None:
        stop_executions(self._executions())
