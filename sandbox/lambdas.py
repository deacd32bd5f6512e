"""In-process Lambda: the handler named in the template, run in this interpreter.

moto's Lambda runs functions in Docker, which these machines lack. The deployer registers every
function here (handler, code and layer directories, environment, timeout, async settings); moto's
invoke path and SNS->Lambda delivery are patched to call this runner. Invocations are serialised
by one lock because os.environ, which the function's environment is applied to, is process-wide.
"""

from __future__ import annotations

import datetime
import heapq
import importlib.util
import itertools
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import boto3

LOG = logging.getLogger(__name__)

_INVOCATION_LOCK: Final = threading.RLock()
_RUNNER_IDS: Final = itertools.count(1)
# Lambda retries a failed asynchronous invocation after about one minute, then after two.
_ASYNC_RETRY_DELAYS_SECONDS: Final = (60.0, 120.0)


class LambdaTimeoutError(Exception):
    """The handler ran longer than the function's Timeout."""


class UnknownFunctionError(LookupError):
    """No function of the sandbox has this name, ARN or logical id."""


class LambdaFunctionError(Exception):
    """The handler raised (Lambda's FunctionError "Unhandled"); the original exception is __cause__."""

    def __init__(self, function_name: str, payload: dict[str, Any]) -> None:
        self.function_name = function_name
        self.payload = payload
        self.error_type = str(payload.get("errorType", "Unhandled"))
        self.error_message = str(payload.get("errorMessage", ""))
        super().__init__(f"{function_name} failed: {self.error_type}: {self.error_message}")


class ModuleNamespace:
    """The modules one function has imported from its code and layer directories.

    Lambda gives each function its own interpreter, so module-level caches (settings read from the
    environment, clients) start empty in every sandbox. The function's copies are swapped into
    sys.modules only while it runs; the rest of the process keeps its own.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [str(root.resolve()) + os.sep for root in roots]
        self.modules: dict[str, ModuleType] = {}
        self._owned: dict[int, bool] = {}

    def owns(self, module: ModuleType | None) -> bool:
        if module is None:
            return False
        key = id(module)
        if key not in self._owned:
            location = getattr(module, "__file__", None) or ""
            self._owned[key] = bool(location) and os.path.abspath(location).startswith(tuple(self.roots))
        return self._owned[key]

    @contextmanager
    def active(self) -> Iterator[None]:
        others = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
        for name in others:
            del sys.modules[name]
        sys.modules.update(self.modules)
        try:
            yield
        finally:
            self.modules = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
            for name in self.modules:
                del sys.modules[name]
            sys.modules.update(others)


@dataclass
class FunctionSpec:
    """What the deployer knows about one AWS::Lambda::Function."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    memory_mb: int = 128
    timeout_seconds: int = 3
    runtime: str = "python3.12"
    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure_destination: str | None = None
    on_success_destination: str | None = None


@dataclass(frozen=True)
class Invocation:
    """One run of a handler, as the sandbox saw it."""

    function_name: str
    request_id: str
    event: Any
    invocation_type: str
    attempt: int
    result: Any = None
    error: BaseException | None = None
    duration_seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.error is None

    def error_payload(self) -> dict[str, Any]:
        if self.error is None:
            raise ValueError("the invocation succeeded")
        return error_payload(self.error, self.request_id)


def error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    if isinstance(error, LambdaTimeoutError):
        return {"errorMessage": f"{request_id} Task timed out: {error}"}
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


class LambdaContext:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, spec: FunctionSpec, request_id: str) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.function_arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = f"{datetime.datetime.now(datetime.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(order=True)
class _Pending:
    not_before: float
    sequence: int
    spec: FunctionSpec = field(compare=False)
    event: Any = field(compare=False)
    request_id: str = field(compare=False)
    attempt: int = field(compare=False)
    enqueued_at: float = field(compare=False)


class LambdaRunner:
    """Registry and executor of the sandbox's functions."""

    def __init__(self, *, region: str, account_id: str, time_scale: float = 1.0) -> None:
        self.region = region
        self.account_id = account_id
        self.time_scale = time_scale
        self.invocations: list[Invocation] = []
        self._id = next(_RUNNER_IDS)
        self._specs: dict[str, FunctionSpec] = {}
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._namespaces: dict[str, ModuleNamespace] = {}
        self._queue: list[_Pending] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None
        self._patches: list[Any] = []
        # Called with the function's modules in place, just before its handler runs.
        self.before_invoke: list[Callable[[FunctionSpec], None]] = []

    # --- registry ---------------------------------------------------------------------------------

    def register(self, spec: FunctionSpec) -> None:
        self._specs[spec.function_name] = spec
        self._namespaces[spec.function_name] = ModuleNamespace([spec.code_dir, *spec.layer_dirs])

    def _namespace(self, spec: FunctionSpec) -> ModuleNamespace:
        return self._namespaces[spec.function_name]

    def update(self, name_or_arn: str, **changes: Any) -> FunctionSpec:
        spec = self.get(name_or_arn)
        for key, value in changes.items():
            setattr(spec, key, value)
        return spec

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return dict(self._specs)

    def find(self, name_or_arn: str) -> FunctionSpec | None:
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        elif ":" in name:
            name = name.split(":", 1)[0]
        if name in self._specs:
            return self._specs[name]
        for spec in self._specs.values():
            if spec.logical_id == name_or_arn:
                return spec
        return None

    def get(self, name_or_arn: str) -> FunctionSpec:
        spec = self.find(name_or_arn)
        if spec is None:
            raise UnknownFunctionError(
                f"no function {name_or_arn!r} in the sandbox (known: {sorted(self._known_names())})"
            )
        return spec

    def _known_names(self) -> Iterator[str]:
        for spec in self._specs.values():
            yield spec.logical_id
            yield spec.function_name

    # --- synchronous invocation -------------------------------------------------------------------

    def invoke(self, name_or_arn: str, event: Any, *, context: Any = None) -> Any:
        """RequestResponse invocation: the handler's result, or LambdaFunctionError if it raised."""
        invocation = self.run(self.get(name_or_arn), event, context=context)
        if invocation.error is not None:
            raise LambdaFunctionError(
                invocation.function_name, invocation.error_payload()
            ) from invocation.error
        return invocation.result

    def run(
        self,
        spec: FunctionSpec,
        event: Any,
        *,
        context: Any = None,
        invocation_type: str = "RequestResponse",
        request_id: str | None = None,
        attempt: int = 1,
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        # Real Lambda hands the handler a JSON document and serialises its result.
        payload = json.loads(json.dumps(event))
        result: Any = None
        error: BaseException | None = None
        started = time.monotonic()
        with _INVOCATION_LOCK, self._function_environment(spec), self._namespace(spec).active():
            try:
                # A cold start's imports are Lambda's init phase, which the function's Timeout excludes.
                handler = self._handler(spec)
                for hook in self.before_invoke:
                    hook(spec)
                started = time.monotonic()
                result = handler(payload, context or LambdaContext(spec, request_id))
                result = json.loads(json.dumps(result))
            except Exception as raised:
                error = raised
        duration = time.monotonic() - started
        if error is None and duration > spec.timeout_seconds:
            error = LambdaTimeoutError(
                f"{spec.function_name} ran {duration:.2f} s, Timeout is {spec.timeout_seconds} s"
            )
        if error is not None:
            LOG.info("%s (%s) raised %s: %s", spec.function_name, request_id, type(error).__name__, error)
        invocation = Invocation(
            function_name=spec.function_name,
            request_id=request_id,
            event=payload,
            invocation_type=invocation_type,
            attempt=attempt,
            result=result if error is None else None,
            error=error,
            duration_seconds=duration,
        )
        with self._condition:
            self.invocations.append(invocation)
        return invocation

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        handler = self._handlers.get(spec.function_name)
        if handler is None:
            handler = self._load_handler(spec)
            self._handlers[spec.function_name] = handler
        return handler

    def _load_handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        module_path, _, function_name = spec.handler.rpartition(".")
        if not module_path or not function_name:
            raise ValueError(f"{spec.logical_id}: Handler {spec.handler!r} is not <module>.<function>")
        source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if not source.is_file():
            raise FileNotFoundError(f"{spec.logical_id}: handler module {source} does not exist")
        unique = f"_sandbox_lambda_{self._id}_{spec.logical_id}_{module_path.replace('.', '_')}"
        module_spec = importlib.util.spec_from_file_location(unique, source)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {source}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        # Registered so that dataclasses and pydantic can find the module; lives in the namespace.
        sys.modules[unique] = module
        module_spec.loader.exec_module(module)
        handler = getattr(module, function_name, None)
        if not callable(handler):
            raise AttributeError(f"{spec.logical_id}: {source} has no callable {function_name!r}")
        return handler  # type: ignore[no-any-return]

    @contextmanager
    def _function_environment(self, spec: FunctionSpec) -> Iterator[None]:
        variables = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            # What `sam local invoke` sets: Powertools' Tracer then stays off instead of looking for X-Ray.
            "AWS_SAM_LOCAL": "true",
            **spec.environment,
        }
        saved = {name: os.environ.get(name) for name in variables}
        paths = [str(spec.code_dir)]
        for layer_dir in spec.layer_dirs:
            paths.extend(str(d) for d in (layer_dir / "python", layer_dir) if d.is_dir())
        inserted = [p for p in paths if p not in sys.path]
        os.environ.update(variables)
        sys.path[:0] = inserted
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            for path in inserted:
                if path in sys.path:
                    sys.path.remove(path)

    # --- asynchronous invocation ------------------------------------------------------------------

    def invoke_async(self, name_or_arn: str, event: Any) -> str:
        """Event invocation: queued, retried MaximumRetryAttempts times, then sent to OnFailure."""
        spec = self.get(name_or_arn)
        request_id = str(uuid.uuid4())
        self._enqueue(spec, event, request_id, attempt=1, delay=0.0, enqueued_at=time.monotonic())
        return request_id

    def _enqueue(
        self,
        spec: FunctionSpec,
        event: Any,
        request_id: str,
        *,
        attempt: int,
        delay: float,
        enqueued_at: float,
    ) -> None:
        with self._condition:
            if self._closed:
                raise RuntimeError("the sandbox is closed")
            pending = _Pending(
                not_before=time.monotonic() + delay * self.time_scale,
                sequence=next(self._sequence),
                spec=spec,
                event=event,
                request_id=request_id,
                attempt=attempt,
                enqueued_at=enqueued_at,
            )
            heapq.heappush(self._queue, pending)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="sandbox-lambda-async", daemon=True)
                self._worker.start()
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._queue or self._queue[0].not_before > time.monotonic()):
                    timeout = self._queue[0].not_before - time.monotonic() if self._queue else None
                    self._condition.wait(timeout)
                if self._closed:
                    return
                pending = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._run_pending(pending)
            except Exception:
                LOG.exception(
                    "asynchronous invocation of %s failed in the sandbox", pending.spec.function_name
                )
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _run_pending(self, pending: _Pending) -> None:
        spec = pending.spec
        age = (time.monotonic() - pending.enqueued_at) / self.time_scale if self.time_scale else 0.0
        if age > spec.maximum_event_age_seconds:
            self._send_to_destination(spec.on_failure_destination, pending, None, "EventAgeExceeded")
            return
        invocation = self.run(
            spec,
            pending.event,
            invocation_type="Event",
            request_id=pending.request_id,
            attempt=pending.attempt,
        )
        if invocation.error is None:
            self._send_to_destination(spec.on_success_destination, pending, invocation, "Success")
        elif pending.attempt <= spec.maximum_retry_attempts:
            delay = _ASYNC_RETRY_DELAYS_SECONDS[min(pending.attempt, len(_ASYNC_RETRY_DELAYS_SECONDS)) - 1]
            self._enqueue(
                spec,
                pending.event,
                pending.request_id,
                attempt=pending.attempt + 1,
                delay=delay,
                enqueued_at=pending.enqueued_at,
            )
        else:
            self._send_to_destination(spec.on_failure_destination, pending, invocation, "RetriesExhausted")

    def _send_to_destination(
        self, destination: str | None, pending: _Pending, invocation: Invocation | None, condition: str
    ) -> None:
        if destination is None:
            if condition != "Success":
                LOG.warning(
                    "%s: asynchronous event %s dropped (%s, no OnFailure destination)",
                    pending.spec.function_name,
                    pending.request_id,
                    condition,
                )
            return
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso_now(),
            "requestContext": {
                "requestId": pending.request_id,
                "functionArn": f"{pending.spec.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": pending.attempt if invocation is not None else pending.attempt - 1,
            },
            "requestPayload": pending.event,
        }
        if invocation is not None:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if invocation.error is not None:
                response["functionError"] = "Unhandled"
            record["responseContext"] = response
            record["responsePayload"] = (
                invocation.result if invocation.error is None else invocation.error_payload()
            )
        deliver_to_destination(destination, record, region=self.region, runner=self)

    def drain(self, timeout: float = 30.0) -> None:
        """Waits until every queued asynchronous invocation (with its retries) has run."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pending = [p.spec.function_name for p in self._queue]
                    raise TimeoutError(
                        f"asynchronous invocations still pending after {timeout} s: {pending}, "
                        f"{self._in_flight} running"
                    )
                self._condition.wait(min(remaining, 0.05))

    @property
    def idle(self) -> bool:
        with self._condition:
            return not self._queue and not self._in_flight

    # --- moto patches -----------------------------------------------------------------------------

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction
        from moto.sns.models import Subscription

        from sandbox.stepfunctions import patch_attribute

        runner = self
        original_invoke = LambdaFunction.__dict__["invoke"]
        original_publish = Subscription.__dict__["publish"]

        def invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            spec = runner.find(function.function_name)
            if spec is None:
                return original_invoke(function, body, request_headers, response_headers)
            event = json.loads(body) if body else {}
            invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
            if invocation_type == "Event":
                runner.invoke_async(spec.function_name, event)
                return b""
            if invocation_type == "DryRun":
                return b""
            invocation = runner.run(spec, event)
            if invocation.error is not None:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(invocation.error_payload()).encode()
            return json.dumps(invocation.result).encode()

        def publish(subscription: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
            spec = runner.find(subscription.endpoint) if subscription.protocol == "lambda" else None
            if spec is None:
                original_publish(subscription, message, message_id, *args, **kwargs)
                return
            arguments = _publish_arguments(args, kwargs)
            matcher = subscription._filter_policy_matcher
            if matcher is not None and not matcher.matches(arguments["message_attributes"], message):
                return
            if arguments["message_structure"] == "json":
                message = subscription._parse_message_structure(message, subscription.protocol)
            event = sns_lambda_event(
                subscription_arn=subscription.arn,
                topic_arn=subscription.topic.arn,
                message=message,
                message_id=message_id,
                subject=arguments["subject"],
                message_attributes=arguments["message_attributes"] or {},
                region=runner.region,
            )
            runner.invoke_async(spec.function_name, event)

        patch_attribute(self._patches, LambdaFunction, "invoke", invoke)
        patch_attribute(self._patches, Subscription, "publish", publish)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            dropped = [p.spec.function_name for p in self._queue]
            self._queue.clear()
            self._condition.notify_all()
        if dropped:
            LOG.warning("sandbox closed with asynchronous invocations pending: %s", dropped)
        if self._worker is not None:
            self._worker.join(timeout=30)
        for patch in reversed(self._patches):
            patch.restore()
        self._patches.clear()
        self._namespaces.clear()
        self._handlers.clear()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None


def _publish_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("subject", "message_attributes", "group_id", "deduplication_id", "message_structure")
    arguments: dict[str, Any] = dict.fromkeys(names)
    arguments.update(zip(names, args, strict=False))
    arguments.update(kwargs)
    return arguments


def _iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sns_lambda_event(
    *,
    subscription_arn: str,
    topic_arn: str,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: Mapping[str, Any],
    region: str,
) -> dict[str, Any]:
    """The event SNS hands to a subscribed function (one record per delivery)."""
    endpoint = f"https://sns.{region}.amazonaws.com"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": _iso_now(),
                    "SignatureVersion": "1",
                    "Signature": "c2FuZGJveA==",
                    "SigningCertUrl": f"{endpoint}/SimpleNotificationService-sandbox.pem",
                    "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in message_attributes.items()
                    },
                },
            }
        ]
    }


def deliver_to_destination(
    destination: str, record: dict[str, Any], *, region: str, runner: LambdaRunner
) -> None:
    """Sends an asynchronous invocation record to an SQS, SNS, Lambda or EventBridge destination."""
    parts = destination.split(":")
    service = parts[2] if len(parts) > 5 else ""
    body = json.dumps(record)
    if service == "sqs":
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)
    elif service == "sns":
        boto3.client("sns", region_name=region).publish(TopicArn=destination, Message=body)
    elif service == "lambda":
        runner.invoke_async(destination, record)
    elif service == "events":
        boto3.client("events", region_name=region).put_events(
            Entries=[
                {
                    "Source": "lambda",
                    "DetailType": "Lambda Function Invocation Result - "
                    + ("Success" if record["requestContext"]["condition"] == "Success" else "Failure"),
                    "Detail": body,
                    "EventBusName": destination,
                }
            ]
        )
    else:
        raise ValueError(f"unsupported asynchronous invocation destination {destination!r}")
