"""Pins the clock AuditEventsFunction's finding windows are computed from, inside a sandbox.

The handler reads the wall clock to choose a finding's window, so two replays a few seconds apart can
fall into different windows (different execution names and task ids). Tests that compare plans or
deliver findings into chosen windows set the clock of the function's own cached services instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox import Sandbox

FUNCTION = "AuditEventsFunction"


def pin_handler_clock(sb: Sandbox, clock: Callable[[], float], warm_up_event: Any) -> None:
    """Invoke once (Lambda's init builds the services), then give those services `clock`."""
    sb.invoke(FUNCTION, warm_up_event)
    spec = sb.lambdas.get(FUNCTION)
    services_module = sb.lambdas._namespace(spec).modules["audit_remediator.services"]
    services_module.audit_events_services().clock = clock
