"""Lambda's asynchronous invocation queue: Event invocations run in order on one worker thread, a
failed one is retried MaximumRetryAttempts times, then its record goes to the OnFailure destination
(OnSuccess after a success); an event older than MaximumEventAgeInSeconds is not run again."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sandbox.lambdas.destinations import invocation_record
from sandbox.lambdas.invocation import Invocation
from sandbox.lambdas.registry import FunctionSpec

LOG = logging.getLogger(__name__)

# Lambda retries a failed asynchronous invocation after about one minute, then after two (Lambda
# developer guide, "How Lambda handles errors and retries with asynchronous invocation").
_ASYNC_RETRY_DELAYS_SECONDS: Final = (60.0, 120.0)


class RunFunction(Protocol):
    def __call__(
        self, spec: FunctionSpec, event: Any, *, invocation_type: str, request_id: str, attempt: int
    ) -> Invocation: ...


@dataclass(order=True)
class _Pending:
    not_before: float
    sequence: int
    spec: FunctionSpec = field(compare=False)
    event: Any = field(compare=False)
    request_id: str = field(compare=False)
    attempt: int = field(compare=False)
    enqueued_at: float = field(compare=False)


class AsyncInvocationQueue:
    """Queued Event invocations; `deliver(destination, record)` sends an invocation record on."""

    def __init__(
        self,
        *,
        run: RunFunction,
        deliver: Callable[[str, dict[str, Any]], None],
        time_scale: float,
    ) -> None:
        self.time_scale = time_scale
        self._run = run
        self._deliver = deliver
        self._queue: list[_Pending] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    def submit(self, spec: FunctionSpec, event: Any) -> str:
        """Queues an Event invocation and returns its request id."""
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
            if self._closed and attempt > 1:
                LOG.warning("%s: retry of %s dropped, the sandbox is closed", spec.function_name, request_id)
                return
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
        invocation = self._run(
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
        record = invocation_record(
            request_id=pending.request_id,
            function_arn=pending.spec.function_arn,
            condition=condition,
            attempts=pending.attempt if invocation is not None else pending.attempt - 1,
            request_payload=pending.event,
            invocation=invocation,
        )
        self._deliver(destination, record)

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

    def close(self) -> None:
        """Drops what is still queued (with a warning) and stops the worker."""
        with self._condition:
            self._closed = True
            dropped = [p.spec.function_name for p in self._queue]
            self._queue.clear()
            self._condition.notify_all()
        if dropped:
            LOG.warning("sandbox closed with asynchronous invocations pending: %s", dropped)
        if self._worker is not None:
            self._worker.join(timeout=30)
