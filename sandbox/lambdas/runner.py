"""The sandbox's Lambda service: the function registry, synchronous and asynchronous invocation, and
moto's Invoke API and SNS deliveries routed to them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.iam.enforcement import Enforcement
from sandbox.iam.principals import acting_as
from sandbox.lambdas.async_queue import AsyncInvocationQueue
from sandbox.lambdas.destinations import deliver_to_destination
from sandbox.lambdas.invocation import Invocation, Invoker, LambdaFunctionError
from sandbox.lambdas.isolation import ModuleNamespace
from sandbox.lambdas.registry import FunctionRegistry, FunctionSpec, execution_caller
from sandbox.lambdas.sns import install_sns_delivery
from sandbox.patching import Patch, patch_attribute, restore_patches


class LambdaRunner:
    """Registry and executor of the sandbox's functions."""

    def __init__(self, *, region: str, account_id: str, time_scale: float = 1.0) -> None:
        self.region = region
        self.account_id = account_id
        self.time_scale = time_scale
        self._registry = FunctionRegistry()
        self._invoker = Invoker(region=region)
        self._queue = AsyncInvocationQueue(
            run=self._invoker.run, deliver=self._deliver, time_scale=time_scale
        )
        self._patches: list[Patch] = []
        # The account's IAM, for SNS's deliveries to the functions (set by the sandbox).
        self.iam: Enforcement | None = None

    @property
    def before_invoke(self) -> list[Callable[[FunctionSpec], None]]:
        """Hooks called with a function's modules in place, just before its handler runs."""
        return self._invoker.before_invoke

    # --- registry ---------------------------------------------------------------------------------

    def register(self, spec: FunctionSpec) -> None:
        self._registry.register(spec)
        self._invoker.prepare(spec)

    def update(self, name_or_arn: str, **changes: Any) -> FunctionSpec:
        return self._registry.update(name_or_arn, **changes)

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return self._registry.functions

    def find(self, name_or_arn: str) -> FunctionSpec | None:
        return self._registry.find(name_or_arn)

    def get(self, name_or_arn: str) -> FunctionSpec:
        return self._registry.get(name_or_arn)

    def _namespace(self, spec: FunctionSpec) -> ModuleNamespace:
        return self._invoker.namespace(spec)

    # --- invocation -------------------------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        return self._invoker.invocations

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
        return self._invoker.run(
            spec,
            event,
            context=context,
            invocation_type=invocation_type,
            request_id=request_id,
            attempt=attempt,
        )

    def invoke_async(self, name_or_arn: str, event: Any) -> str:
        """Event invocation: queued, retried MaximumRetryAttempts times, then sent to OnFailure."""
        return self._queue.submit(self.get(name_or_arn), event)

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        # Lambda sends an asynchronous invocation's record to its destination with the function's
        # execution role (Lambda developer guide, "Capturing records of asynchronous invocations").
        spec = self.find(str(record.get("requestContext", {}).get("functionArn", "")))
        with acting_as(execution_caller(spec) if spec is not None else None):
            deliver_to_destination(destination, record, region=self.region, invoke_async=self.invoke_async)

    def drain(self, timeout: float = 30.0) -> None:
        """Waits until every queued asynchronous invocation (with its retries) has run."""
        self._queue.drain(timeout)

    @property
    def idle(self) -> bool:
        return self._queue.idle

    # --- moto patches -----------------------------------------------------------------------------

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        runner = self
        original_invoke = LambdaFunction.__dict__["invoke"]

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

        patch_attribute(self._patches, LambdaFunction, "invoke", invoke)
        install_sns_delivery(
            self._patches, find=self.find, invoke_async=self.invoke_async, region=self.region, iam=self.iam
        )

    def close(self) -> None:
        self._queue.close()
        restore_patches(self._patches)
        self._invoker.clear()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None
