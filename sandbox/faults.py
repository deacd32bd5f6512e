"""Fault injection and the API call log, both through botocore's event hooks.

The hooks are registered once, process-wide, in botocore's BUILTIN_HANDLERS (so every client created
afterwards carries them, including clients a handler caches across sandboxes) and dispatch to the
open sandbox, if any. The `before-call.*` hook runs before the Device Defender emulator's
`before-call.iot` and moto's `before-send`, so an injected fault answers before either sees the call.

A response returned from `before-call` bypasses botocore's retry handler, so for injected errors the
hook applies the calling client's own retry policy itself (mode and max attempts from its config,
botocore's retryable codes and statuses, backoff scaled by the sandbox's time scale): a handler whose
client retries throttling survives `times=2`, a Step Functions task (no SDK retries) does not.
Each attempt is one entry in the call log.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, overload

from botocore import handlers
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel

from sandbox.botocore_errors import backoff, error_code, error_response, error_status, retry_policy, retryable
from sandbox.clock import SandboxClock
from sandbox.iam.principals import current_caller

_CONTEXT_KEY: Final = "sandbox_call"
_PARAMS_KEY: Final = "sandbox_params"


@dataclass
class Fault:
    """One rule: calls to service/operation get `error` (and/or wait `delay` seconds), `times` times."""

    service: str
    operation: str
    error: str | None = None
    status: int | None = None
    message: str | None = None
    times: int | None = 1
    delay: float = 0.0
    when: Callable[[dict[str, Any]], bool] | None = None
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, model: OperationModel, params: dict[str, Any]) -> bool:
        if self.exhausted or self.operation != model.name:
            return False
        if not _service_matches(self.service, model):
            return False
        return self.when is None or bool(self.when(params))


def _service_matches(service: str, model: OperationModel) -> bool:
    service_model = model.service_model
    names = {service_model.service_name.lower(), service_model.service_id.hyphenize().lower()}
    return service.lower() in names


@dataclass
class ApiCall:
    """One attempt of one API call made through a botocore client while the sandbox was open."""

    service: str
    operation: str
    params: dict[str, Any]
    outcome: str = "pending"
    status: int | None = None
    injected: bool = False
    attempt: int = 1
    started_at: float = field(default_factory=time.time)
    # Who made the call: a role session's or service principal's ARN; None for the operator (a test).
    caller: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class CallLog(Sequence[ApiCall]):
    """The calls in the order they were made; `count()` and `of()` filter them."""

    def __init__(self) -> None:
        self._calls: list[ApiCall] = []
        self._lock = threading.Lock()
        self._paused = threading.local()

    def append(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    @overload
    def __getitem__(self, index: int) -> ApiCall: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ApiCall]: ...
    def __getitem__(self, index: int | slice) -> ApiCall | Sequence[ApiCall]:
        with self._lock:
            return self._calls[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def of(
        self, service: str | None = None, operation: str | None = None, *, outcome: str | None = None
    ) -> list[ApiCall]:
        with self._lock:
            calls = list(self._calls)
        return [
            call
            for call in calls
            if (service is None or call.service == service)
            and (operation is None or call.operation == operation)
            and (outcome is None or call.outcome == outcome)
        ]

    def count(
        self, service: str | None = None, operation: str | None = None, *, outcome: str | None = None
    ) -> int:
        return len(self.of(service, operation, outcome=outcome))

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def paused(self) -> bool:
        return int(getattr(self._paused, "depth", 0)) > 0

    @property
    def faultable_while_paused(self) -> bool:
        return bool(getattr(self._paused, "faultable", False))

    @contextmanager
    def pause(self, *, faults: bool = False) -> Iterator[None]:
        """Calls made by this thread meanwhile are neither logged nor (unless `faults`) faulted (the sandbox's
        own calls: deploying, polling); other threads (executions, deliveries) are unaffected."""
        self._paused.depth = int(getattr(self._paused, "depth", 0)) + 1
        faultable = self.faultable_while_paused
        self._paused.faultable = faults
        try:
            yield
        finally:
            self._paused.depth -= 1
            self._paused.faultable = faultable


class FaultInjector:
    """`sb.faults`: rules matched in the order they were added."""

    def __init__(self, calls: CallLog, *, clock: SandboxClock | None = None) -> None:
        self.calls = calls
        # Delays and the SDK's retry back-off pass on the sandbox clock, like Wait states.
        self.clock = clock or SandboxClock()
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        service: str,
        operation: str,
        *,
        error: str | None = None,
        status: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Fault:
        """Injects `error` (an error code of the service, e.g. "ThrottlingException") into the next
        `times` calls (None: every call) to `operation` (the API name, e.g.
        "StartAuditMitigationActionsTask") of `service` (boto3's name, e.g. "iot", or the service
        id). `delay` waits that many seconds of sandbox time first; with no error the call then goes through.
        `status` defaults to the service model's status for the error. `when(params)` narrows it.
        """
        if error is None and delay <= 0:
            raise ValueError("a fault needs an error, a delay or both")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every call)")
        fault = Fault(service, operation, error, status, message, times, delay, when)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _take(self, model: OperationModel, params: dict[str, Any]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(model, params):
                    fault.fired += 1
                    return fault
        return None


# --- the process-wide hooks -----------------------------------------------------------------------


class Authorizer(Protocol):
    """IAM's answer for a call by the thread's current caller: None when allowed."""

    def check_call(self, service: str, operation: str, params: Mapping[str, Any]) -> Denied | None: ...


class Denied(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def caller(self) -> str: ...
    @property
    def message(self) -> str: ...


class _Interceptor:
    def __init__(self, faults: FaultInjector, authorizer: Authorizer | None = None) -> None:
        self.faults = faults
        self.calls = faults.calls
        self.authorizer = authorizer

    def on_parameters(self, params: dict[str, Any], context: dict[str, Any]) -> None:
        try:
            context[_PARAMS_KEY] = copy.deepcopy(params)
        except Exception:
            context[_PARAMS_KEY] = dict(params)

    def on_before_call(
        self, model: OperationModel, params: dict[str, Any], context: dict[str, Any]
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.calls.paused:
            return self._fault_unlogged(model, params, context) if self.calls.faultable_while_paused else None
        api_params = context.get(_PARAMS_KEY, {})
        service = model.service_model.service_name
        if self.authorizer is not None:
            denied = self.authorizer.check_call(service, model.name, api_params)
            if denied is not None:
                self.calls.append(
                    ApiCall(
                        service,
                        model.name,
                        api_params,
                        outcome=denied.code,
                        status=denied.status,
                        caller=denied.caller,
                    )
                )
                return error_response(params, denied.code, denied.status, denied.message, 1)
        caller = current_caller()
        caller_arn = caller.arn if caller is not None else None
        mode, max_attempts = retry_policy(context, model)
        attempt = 1
        while True:
            fault = self.faults._take(model, api_params)
            if fault is not None and fault.delay > 0:
                self.faults.clock.sleep(fault.delay)
            if fault is None or fault.error is None:
                call = ApiCall(service, model.name, api_params, attempt=attempt, caller=caller_arn)
                context[_CONTEXT_KEY] = call
                self.calls.append(call)
                return None
            status = fault.status or error_status(model, fault.error)
            code = error_code(model, fault.error)
            self.calls.append(
                ApiCall(
                    model.service_model.service_name,
                    model.name,
                    api_params,
                    outcome=code,
                    status=status,
                    injected=True,
                    attempt=attempt,
                    caller=caller_arn,
                )
            )
            if attempt < max_attempts and retryable(mode, code, status):
                self.faults.clock.sleep(backoff(mode, attempt))
                attempt += 1
                continue
            return error_response(
                params, code, status, fault.message or f"Injected by the sandbox: {code}", attempt
            )

    def _fault_unlogged(
        self, model: OperationModel, params: dict[str, Any], context: dict[str, Any]
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        """A paused caller that accepts faults (a deploy): the fault's error, once, neither logged nor retried."""
        fault = self.faults._take(model, context.get(_PARAMS_KEY, {}))
        if fault is None or fault.error is None:
            return None
        status = fault.status or error_status(model, fault.error)
        code = error_code(model, fault.error)
        return error_response(params, code, status, fault.message or f"Injected by the sandbox: {code}", 1)

    def on_after_call(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any]) -> None:
        call = context.get(_CONTEXT_KEY)
        if not isinstance(call, ApiCall):
            return
        call.status = getattr(http_response, "status_code", None)
        if call.status is not None and call.status >= 300:
            call.outcome = str(parsed.get("Error", {}).get("Code", call.status))
        else:
            call.outcome = "ok"

    def on_after_call_error(self, exception: BaseException, context: dict[str, Any]) -> None:
        call = context.get(_CONTEXT_KEY)
        if isinstance(call, ApiCall):
            call.outcome = type(exception).__name__


class _Hooks:
    """Process-wide: whether the dispatchers are registered, and the open sandbox's interceptor."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False
        self.active: _Interceptor | None = None


_HOOKS: Final = _Hooks()


def _on_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    interceptor = _HOOKS.active
    if interceptor is not None:
        interceptor.on_parameters(params, context)


def _on_before_call(
    model: OperationModel, params: dict[str, Any], context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    interceptor = _HOOKS.active
    if interceptor is None:
        return None
    return interceptor.on_before_call(model, params, context)


def _on_after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    interceptor = _HOOKS.active
    if interceptor is not None:
        interceptor.on_after_call(http_response, parsed, context)


def _on_after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    interceptor = _HOOKS.active
    if interceptor is not None:
        interceptor.on_after_call_error(exception, context)


def install_hooks() -> None:
    """Registers the dispatchers for every botocore session created from now on (idempotent)."""
    with _HOOKS.lock:
        if _HOOKS.installed:
            return
        handlers.BUILTIN_HANDLERS.extend(
            [
                ("before-parameter-build", _on_parameters),
                # botocore runs handlers of a wildcard node before those of the same level's named
                # nodes, so this precedes the emulator's "before-call.iot" (and moto's before-send).
                ("before-call.*", _on_before_call, handlers.REGISTER_FIRST),
                ("after-call", _on_after_call),
                ("after-call-error", _on_after_call_error),
            ]
        )
        _HOOKS.installed = True


def activate(faults: FaultInjector, authorizer: Authorizer | None = None) -> None:
    install_hooks()
    with _HOOKS.lock:
        if _HOOKS.active is not None:
            raise RuntimeError("another sandbox is open in this process; sandboxes cannot be nested")
        _HOOKS.active = _Interceptor(faults, authorizer)


def deactivate() -> None:
    with _HOOKS.lock:
        _HOOKS.active = None
