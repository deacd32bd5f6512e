"""Wait states and retry intervals on the sandbox clock instead of the wall clock.

A Wait state waits `Seconds` from when it begins, or until an absolute `Timestamp` (RFC 3339, `Z`,
milliseconds truncated); a Retrier sleeps IntervalSeconds * BackoffRate^n between attempts.
Sources: https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html and
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
moto 5.2.5 measures both on the machine's clock (`datetime.now()`, `time.sleep`); here they are
measured on the one clock that Lambda handlers and JSONata's `$now()` also read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.clock import SandboxClock


def install_wait_states(patch: Callable[[Any, str, Any], None], clock: SandboxClock) -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function

    def wait_until(function: Any, env: Any) -> datetime:
        if not isinstance(function, timestamp.Timestamp):
            return clock.now() + timedelta(seconds=max(0, function._get_wait_seconds(env=env)))
        function.string.eval(env=env)
        text: str = env.stack.pop()
        moment: datetime | None = function._from_timestamp_string(timestamp=text)
        if moment is None:
            raise FailureEventException(function._create_failure_event(env, text))
        return moment.replace(tzinfo=UTC)

    def eval_body(function: Any, env: Any) -> None:
        clock.wait_until(wait_until(function, env), interrupted=lambda: not env.is_running())

    patch(wait_function.WaitFunction, "_eval_body", eval_body)
    patch(retrier_decl, "time", _ClockTime(clock))


class _ClockTime:
    """Stands in for the `time` module inside moto's retrier, whose only use is sleep()."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
