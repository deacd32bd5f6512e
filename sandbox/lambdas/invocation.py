"""One run of a handler: Lambda's context object, its error document, and `Invoker.run`, the one
place where the sandbox calls a function's handler.

Invocations are serialised by one lock because os.environ, which the function's environment is
applied to, is process-wide.
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sandbox.iam.principals import acting_as
from sandbox.lambdas.isolation import (
    Handler,
    ModuleNamespace,
    function_environment,
    function_namespace,
    load_handler,
)
from sandbox.lambdas.registry import FunctionSpec, execution_caller

LOG = logging.getLogger(__name__)

_INVOCATION_LOCK: Final = threading.RLock()
_INVOKER_IDS: Final = itertools.count(1)


class LambdaTimeoutError(Exception):
    """The handler ran longer than the function's Timeout."""


class LambdaFunctionError(Exception):
    """The handler raised (Lambda's FunctionError "Unhandled"); the original exception is __cause__."""

    def __init__(self, function_name: str, payload: dict[str, Any]) -> None:
        self.function_name = function_name
        self.payload = payload
        self.error_type = str(payload.get("errorType", "Unhandled"))
        self.error_message = str(payload.get("errorMessage", ""))
        super().__init__(f"{function_name} failed: {self.error_type}: {self.error_message}")


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


class Invoker:
    """Runs handlers, each function in its own module namespace, and records every invocation."""

    def __init__(self, *, region: str) -> None:
        self.region = region
        self.invocations: list[Invocation] = []
        self._id = next(_INVOKER_IDS)
        self._handlers: dict[str, Handler] = {}
        self._namespaces: dict[str, ModuleNamespace] = {}
        self._lock = threading.Lock()
        # Called with the function's modules in place, just before its handler runs.
        self.before_invoke: list[Callable[[FunctionSpec], None]] = []

    def prepare(self, spec: FunctionSpec) -> None:
        """A fresh namespace for a function (re)registered: its next invocation is a cold start."""
        self._namespaces[spec.function_name] = function_namespace(spec)

    def namespace(self, spec: FunctionSpec) -> ModuleNamespace:
        return self._namespaces[spec.function_name]

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
        with (
            _INVOCATION_LOCK,
            function_environment(spec, region=self.region),
            self.namespace(spec).active(),
            acting_as(execution_caller(spec)),
        ):
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
        with self._lock:
            self.invocations.append(invocation)
        return invocation

    def _handler(self, spec: FunctionSpec) -> Handler:
        handler = self._handlers.get(spec.function_name)
        if handler is None:
            handler = load_handler(spec, f"_sandbox_lambda_{self._id}_{spec.logical_id}")
            self._handlers[spec.function_name] = handler
        return handler

    def clear(self) -> None:
        self._namespaces.clear()
        self._handlers.clear()
