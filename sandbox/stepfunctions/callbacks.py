"""A callback task's TimeoutSeconds and HeartbeatSeconds on the sandbox clock.

A `.waitForTaskToken` task waits until SendTaskSuccess/SendTaskFailure answers its token; past
TimeoutSeconds (or HeartbeatSeconds without SendTaskHeartbeat) it fails with States.Timeout.
Sources: https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
("Configure a Heartbeat Timeout for a Waiting Task") and
https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html (TimeoutSeconds, HeartbeatSeconds).
moto 5.2.5 waits on the machine's clock (`threading.Event.wait(timeout)`), so a 24-hour approval would
take 24 real hours; here the wait ends when the sandbox clock passes the deadline, and a waiting callback
counts as a waiter on the clock (a test moves a frozen clock past it).

SendTaskFailure takes `error` and `cause` (botocore's stepfunctions model, SendTaskFailureInput; cause up
to 32768 characters), and the failed task's error output carries both; moto 5.2.5's response handler
passes the error on and drops the cause.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sandbox.clock import SandboxClock


def install_callback_timeouts(patch: Callable[[Any, str, Any], None], clock: SandboxClock) -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint

    original_wait = CallbackEndpoint.__dict__["wait"]

    def wait(endpoint: Any, timeout: float | None = None) -> Any:
        if timeout is None:
            return original_wait(endpoint, timeout)
        clock.wait_until(clock.now() + timedelta(seconds=timeout), interrupted=endpoint._notify_event.is_set)
        return endpoint._outcome

    def clear_and_wait(heartbeat: Any) -> bool:
        with heartbeat._mutex:
            if heartbeat._next_heartbeat_event.is_set():
                heartbeat._next_heartbeat_event.clear()
                return True
        deadline = clock.now() + timedelta(seconds=heartbeat._heartbeat_seconds)
        reached = clock.wait_until(deadline, interrupted=heartbeat._next_heartbeat_event.is_set)
        return not reached

    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(response: Any) -> Any:
        from moto.core.responses import EmptyResult

        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"),
            error=response._get_param("error"),
            cause=response._get_param("cause"),
        )
        return EmptyResult()

    patch(StepFunctionResponse, "send_task_failure", send_task_failure)
    patch(CallbackEndpoint, "wait", wait)
    patch(HeartbeatEndpoint, "clear_and_wait", clear_and_wait)
