"""The sandbox's one clock: what Lambda handlers, JSONata's `$now()`/`$millis()`, Wait states, retry
intervals, delay faults and the Device Defender emulator all read and wait on.

It runs 1/time_scale times faster than the wall clock, so a Wait of 15 s (0.15 s at time_scale=0.01)
also lets 15 s pass for the emulator. A test that must not depend on how fast the machine is freezes
it: time then moves only by `advance()`, and whatever waits on it (a Wait state, a delay fault) waits
until the test moves it there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

# How often a waiter looks again at what may interrupt it (an execution being stopped).
_RECHECK_SECONDS = 0.05


class SandboxClock:
    def __init__(self, time_scale: float = 1.0, *, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs a timezone-aware start time")
        self.time_scale = time_scale
        self._base = start.astimezone(UTC)
        self._origin = time.monotonic()
        self._running = True
        self._waiting = 0
        self._condition = threading.Condition()

    # --- reading ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current sandbox time, timezone-aware (UTC)."""
        with self._condition:
            return self._now()

    def time(self) -> float:
        """Seconds since the epoch, as `time.time()` gives them: what a handler's clock returns."""
        return self.now().timestamp()

    def millis(self) -> int:
        return int(self.now().timestamp() * 1000)

    @property
    def is_frozen(self) -> bool:
        with self._condition:
            return not self._running

    @property
    def waiting(self) -> int:
        """How many threads are waiting on the clock right now (Wait states, delays, retries)."""
        with self._condition:
            return self._waiting

    def _now(self) -> datetime:
        if not self._running:
            return self._base
        return self._base + timedelta(seconds=(time.monotonic() - self._origin) / self.time_scale)

    # --- moving -----------------------------------------------------------------------------------

    def advance(self, seconds: float) -> datetime:
        """Jumps forward; every wait whose end this passes returns."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._condition:
            self._base += timedelta(seconds=seconds)
            self._condition.notify_all()
            return self._now()

    def freeze(self, at: datetime | None = None) -> None:
        """Stops the clock (at `at` if given: a replay that must land on a fixed instant may move it
        back, which is why only a frozen clock can be set)."""
        if at is not None and at.tzinfo is None:
            raise ValueError("freeze needs a timezone-aware time")
        with self._condition:
            self._base = self._now() if at is None else at.astimezone(UTC)
            self._running = False
            self._condition.notify_all()

    def resume(self) -> None:
        """Lets the clock run again, from where it stands, at 1/time_scale."""
        with self._condition:
            if not self._running:
                self._origin = time.monotonic()
                self._running = True
            self._condition.notify_all()

    @contextmanager
    def frozen(self, at: datetime | None = None) -> Iterator[datetime]:
        """Freezes the clock for the block, then lets it run again; yields the frozen instant."""
        self.freeze(at)
        try:
            yield self.now()
        finally:
            self.resume()

    # --- waiting ----------------------------------------------------------------------------------

    def wait_until(self, deadline: datetime, interrupted: Callable[[], bool] = lambda: False) -> bool:
        """Blocks until sandbox time reaches `deadline` (True) or `interrupted()` holds (False)."""
        with self._condition:
            self._waiting += 1
            self._condition.notify_all()
            try:
                while True:
                    if interrupted():
                        return False
                    now = self._now()
                    if now >= deadline:
                        return True
                    timeout = _RECHECK_SECONDS
                    if self._running:
                        timeout = min(timeout, (deadline - now).total_seconds() * self.time_scale)
                    self._condition.wait(timeout)
            finally:
                self._waiting -= 1
                self._condition.notify_all()

    def sleep(self, seconds: float) -> None:
        """Sleeps `seconds` of sandbox time."""
        self.wait_until(self.now() + timedelta(seconds=max(0.0, seconds)))

    def wait_for_waiters(self, count: int, timeout: float = 30.0) -> None:
        """Blocks until `count` threads wait on the clock (a test's way to know that a Wait state or a
        delay has been reached before it moves a frozen clock). Raises TimeoutError after `timeout`
        real seconds."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._waiting >= count, timeout):
                raise TimeoutError(
                    f"{self._waiting} of {count} waiters on the sandbox clock after {timeout} s"
                )
