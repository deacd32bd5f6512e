"""Local AWS for the tests, `make demo` and `make replay`: moto, the Device Defender emulator, the
template deployer, in-process Lambda and the Step Functions runner.

    with Sandbox(time_scale=0.01) as sb:
        stack = sb.deploy("template.yaml", parameters={"RemediationMode": "Enforce"})
        result = sb.invoke("AuditEventsFunction", event)
        sb.settle()
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import boto3

from sandbox.clock import SandboxClock
from sandbox.deployer import (
    DeployError,
    Deployment,
    Stack,
    UnsupportedResourceTypeError,
    supported_resource_types,
)
from sandbox.faults import ApiCall, CallLog, Fault, FaultInjector
from sandbox.lambda_clock import handlers_read
from sandbox.lambdas import FunctionSpec, Invocation, LambdaContext, LambdaFunctionError, LambdaRunner
from sandbox.stepfunctions import StepFunctionsRuntime

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "ApiCall",
    "CallLog",
    "DeployError",
    "ExecutionResult",
    "Fault",
    "FaultInjector",
    "FunctionSpec",
    "Invocation",
    "LambdaContext",
    "LambdaFunctionError",
    "Sandbox",
    "SandboxClock",
    "Stack",
    "UnsupportedResourceTypeError",
    "supported_resource_types",
    "target_input",
    "transform_input",
]

LOG = logging.getLogger(__name__)

DEFAULT_REGION: Final = "us-east-1"
DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_STACK_NAME: Final = "iot-audit-remediator"
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_ISOLATED_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": None,
    "AWS_REGION": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_ENDPOINT_URL": None,
    "AWS_RETRY_MODE": None,
    "AWS_MAX_ATTEMPTS": None,
    "MOTO_ACCOUNT_ID": None,
}


_SHARED: dict[str, Any] = {}


def _default_session(region: str) -> boto3.session.Session:
    """boto3's default session for the sandbox (moto resets it when its mock starts, and puts the
    previous one back when it stops), sharing one botocore loader with every sandbox of the
    process: loading service models from disk is most of the cost of creating a client."""
    import botocore.loaders

    loader = _SHARED.get("loader")
    if loader is None:
        loader = _SHARED["loader"] = botocore.loaders.create_loader()
    session = boto3.session.Session(region_name=region)
    session._session.register_component("data_loader", loader)
    return session


class ExecutionResult(dict[str, Any]):
    """DescribeExecution's answer, with `history` (GetExecutionHistory's events, all pages)."""

    @property
    def status(self) -> str:
        return str(self["status"])

    @property
    def output_json(self) -> Any:
        return json.loads(self["output"]) if self.get("output") else None

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.get("_history", []))

    @property
    def state_transitions(self) -> int:
        """Entered states, the unit Step Functions bills STANDARD workflows by (close enough)."""
        return sum(1 for event in self.history if event["type"].endswith("StateEntered"))


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
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.region = region
        self.account_id = account_id
        self.clock = SandboxClock(time_scale)
        self.calls = CallLog()
        self.faults = FaultInjector(self.calls, clock=self.clock)
        self.lambdas = LambdaRunner(region=region, account_id=account_id, time_scale=time_scale)
        self.lambdas.before_invoke.append(handlers_read(self.clock))
        self.stepfunctions = StepFunctionsRuntime(self.clock)
        self.emulator: Any = None
        self.stacks: dict[str, Stack] = {}
        self._want_emulator = emulator
        self._emulator_options = dict(emulator_options or {})
        self._mock: Any = None
        self._clients: dict[str, Any] = {}
        self._saved_environment: dict[str, str | None] = {}
        self._open = False
        # Held while an execution's end is reported and while reporting stops, so that a worker thread
        # finishing late never reports into the next sandbox's (same-named) stack.
        self._reporting_lock = threading.Lock()
        self._reporting = False

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
        self._isolate_environment()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._open = True
        self._reporting = True
        boto3.DEFAULT_SESSION = _default_session(self.region)
        try:
            faults.activate(self.faults)
            self.stepfunctions.install()
            self.lambdas.install()
            _install_execution_events(self)
            if emulator_class is not None:
                self.emulator = emulator_class(
                    clock=self.clock, account_id=self.account_id, region=self.region, **self._emulator_options
                )
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
            self._stop_reporting,
            _uninstall_execution_events,
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
        self._restore_environment()
        if errors:
            raise errors[0]

    def _isolate_environment(self) -> None:
        values = {**_ISOLATED_ENVIRONMENT, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        if self.account_id != DEFAULT_ACCOUNT_ID:
            values["MOTO_ACCOUNT_ID"] = self.account_id
        self._saved_environment = {name: os.environ.get(name) for name in values}
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

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
        )
        with self.calls.pause():
            stack = deployment.run()
        self.stacks[stack_name] = stack
        return stack

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
        deadline = time.monotonic() + timeout
        with self.calls.pause():
            while True:
                described = sfn.describe_execution(executionArn=execution_arn)
                if described["status"] in _TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout} s")
                self._poke_emulator()
                time.sleep(0.01)
            described.pop("ResponseMetadata", None)
            result = ExecutionResult(described)
            result["_history"] = self.execution_history(execution_arn)
        return result

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """GetExecutionHistory, every page, oldest first."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        with self.calls.pause():
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
                events.extend(page["events"])
        return events

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
        return [execution.exec_arn for execution in self._executions() if _running(execution)]

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
        # With execute_state_machine, moto serves Step Functions from the interpreter's backend.
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.account_id][self.region]
        return [execution for machine in backend.state_machines for execution in machine.executions]

    def _stop_reporting(self) -> None:
        with self._reporting_lock:
            self._reporting = False

    def _reports(self, execution: Any) -> bool:
        """Whether this sandbox reports the end of `execution`: it is open, and the execution is one of
        its own (moto's backends are process-wide; a worker of a closed sandbox may end after the next
        one opened)."""
        return self._reporting and any(own is execution for own in self._executions())

    def _stop_executions(self) -> None:
        """Aborts what still runs, and waits a little for it to stop: a task still in flight when
        moto's mock ends would send its call to the real endpoint."""
        now = datetime.datetime.now(datetime.UTC)
        running = [execution for execution in self._executions() if _running(execution)]
        for execution in running:
            LOG.warning("sandbox closing: aborting running execution %s", execution.exec_arn)
            execution.stop(stop_date=now, error="Sandbox.Closed", cause="the sandbox was closed")
        deadline = time.monotonic() + 5
        while any(_running(execution) for execution in running) and time.monotonic() < deadline:
            time.sleep(0.01)


def _running(execution: Any) -> bool:
    """moto lists an execution before it starts it, with no status yet (stepfunctions/parser/models.py,
    start_execution): count it as running, as DescribeExecution would."""
    return execution.exec_status is None or execution.exec_status.value == "RUNNING"


# --- EventBridge: Step Functions status-change events, input transformers ------------------------

_EXECUTION_EVENTS_PATCH: list[Any] = []
_OUR_TARGETS: Final = frozenset({"sns", "lambda", "states"})
_INPUT_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def transform_input(
    input_template: str | None, input_paths_map: Mapping[str, str], event: Mapping[str, Any]
) -> Any:
    """EventBridge's InputTransformer. In a JSON template a placeholder outside quotes becomes the
    JSON value (a string gets its quotes), inside quotes its text; moto splices the raw text
    everywhere, which breaks templates such as `{"status": <status>}`."""
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

    if not input_template:
        return dict(event)
    values: dict[str, Any] = {
        "aws.events.event.json": dict(event),
        "aws.events.event.ingestion-time": event.get("time"),
    }
    for name, path in input_paths_map.items():
        matches = parse(path).find(dict(event))
        values[name] = matches[0].value if matches else None
    is_json = input_template.lstrip().startswith(("{", "["))
    pieces: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(input_template):
        character = input_template[position]
        match = _INPUT_PLACEHOLDER.match(input_template, position) if character == "<" else None
        if match is not None and match.group(1) in values:
            value = values[match.group(1)]
            if in_string or not is_json:
                text = value if isinstance(value, str) else "" if value is None else json.dumps(value)
                pieces.append(json.dumps(text)[1:-1] if in_string else text)
            else:
                pieces.append(json.dumps(value))
            position = match.end()
            continue
        if is_json and not escaped and character == '"':
            in_string = not in_string
        escaped = in_string and character == "\\" and not escaped
        pieces.append(character)
        position += 1
    text = "".join(pieces)
    return json.loads(text) if is_json else text


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What a rule hands its target: Input, InputPath, InputTransformer or the whole event."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        matches = parse(target["InputPath"]).find(dict(event))
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return transform_input(transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), event)
    return dict(event)


def _deliver_to_other_targets(sandbox: Sandbox, rule: Any, event: Mapping[str, Any]) -> None:
    """The targets moto's EventBridge does not deliver to: SNS topics, functions, state machines."""
    if not sandbox._open or not rule.event_pattern.matches_event(event):
        return
    for target in rule.targets:
        service = str(target["Arn"]).split(":")[2]
        if service not in _OUR_TARGETS:
            continue
        payload = target_input(target, event)
        body = payload if isinstance(payload, str) else json.dumps(payload)
        with sandbox.calls.pause():
            if service == "sns":
                sandbox.client("sns").publish(TopicArn=target["Arn"], Message=body)
            elif service == "lambda":
                sandbox.lambdas.invoke_async(target["Arn"], payload)
            else:
                sandbox.client("stepfunctions").start_execution(stateMachineArn=target["Arn"], input=body)


def _install_execution_events(sandbox: Sandbox) -> None:
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    from sandbox.stepfunctions import patch_attribute

    patch_attribute(
        _EXECUTION_EVENTS_PATCH,
        EventTemplateParser,
        "parse",
        staticmethod(transform_input),
    )
    original_send = Rule.__dict__["send_to_targets"]

    def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
        moto_rule = copy.copy(rule)
        moto_rule.targets = [t for t in rule.targets if str(t["Arn"]).split(":")[2] not in _OUR_TARGETS]
        original_send(moto_rule, original_event, transform_input)
        _deliver_to_other_targets(sandbox, rule, original_event)

    patch_attribute(_EXECUTION_EVENTS_PATCH, Rule, "send_to_targets", send_to_targets)
    original = BaseExecutionWorkerCommunication.__dict__["terminated"]

    def terminated(communication: Any) -> None:
        original(communication)
        with sandbox._reporting_lock:
            if not sandbox._reports(communication.execution):
                return
            try:
                with sandbox.calls.pause():
                    _put_status_change_event(sandbox, communication.execution)
            except Exception:
                LOG.exception("could not send the execution status change event")

    patch_attribute(_EXECUTION_EVENTS_PATCH, BaseExecutionWorkerCommunication, "terminated", terminated)


def _uninstall_execution_events() -> None:
    for patch in reversed(_EXECUTION_EVENTS_PATCH):
        patch.restore()
    _EXECUTION_EVENTS_PATCH.clear()


def _epoch_ms(value: datetime.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def _put_status_change_event(sandbox: Sandbox, execution: Any) -> None:
    """What Step Functions sends to EventBridge when a STANDARD execution ends."""
    output = execution.output
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date),
        "input": execution.input_data
        if isinstance(execution.input_data, str)
        else json.dumps(execution.input_data),
        "output": None if output is None else output if isinstance(output, str) else json.dumps(output),
        "error": execution.error,
        "cause": execution.cause,
    }
    boto3.client("events", region_name=sandbox.region).put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [execution.exec_arn],
            }
        ]
    )
