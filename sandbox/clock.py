"""Sandbox time, which the Device Defender emulator reads."""

from __future__ import annotations

import datetime
import threading
import time


class SandboxClock:
    """Sandbox time: starts now and runs 1/time_scale times faster than the wall clock, so a
    Wait of 15 s (scaled to 0.15 s at time_scale=0.01) also lets 15 s pass for the emulator."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self._start = datetime.datetime.now(datetime.UTC)
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime.datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._origin) / self.time_scale + self._offset
        return self._start + datetime.timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Jumps sandbox time forward (what the emulator sees; Wait states are not shortened)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._offset += seconds
