"""The sandbox's functions read the sandbox clock.

Lambda gives a handler the machine's clock; the product's handler takes its clock as a parameter
(`Services.clock`, `time.time` in production). In the sandbox, every function whose code has the
product's services gets the sandbox clock instead, so the finding windows it computes are measured on
the clock that Wait states and JSONata's `$millis()` read.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Final

from sandbox.clock import SandboxClock
from sandbox.lambdas import FunctionSpec

LOG = logging.getLogger(__name__)

# Each function's cached services, by module and factory: the audit events, the pre-start analysis, the
# reconciliation sweep, the resource state (its time to remediate), the quarantine timers' verification
# hook and their expiry sweep.
SERVICES_FACTORIES: Final = (
    ("audit_remediator.services", "audit_events_services"),
    ("audit_remediator.analysis_services", "analysis_services"),
    ("audit_remediator.reconcile_services", "reconcile_services"),
    ("audit_remediator.resource_state_services", "resource_state_services"),
    ("audit_remediator.quarantine_services", "timer_clock"),
    ("audit_remediator.quarantine_services", "quarantine_expiry_services"),
)


def handlers_read(clock: SandboxClock) -> Callable[[FunctionSpec], None]:
    """A `LambdaRunner.before_invoke` hook: gives the function's (cached) services `clock.time`."""

    def give_clock(spec: FunctionSpec) -> None:
        for module, name in SERVICES_FACTORIES:
            factory = getattr(sys.modules.get(module), name, None)
            if factory is None:
                continue
            try:
                services = factory()
            except Exception as error:  # the handler builds them next and reports it
                LOG.debug("%s: services not built before the handler: %s", spec.function_name, error)
                continue
            services.clock = clock.time

    return give_clock
