"""The demo's rollback of one device: the operator restores what the run changed for it with `remediator
rollback --thing`, and its settings are read again to compare with its "before" column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.operator_command import OperatorCommand, run_operator_command

ROLLED_BACK_DEVICE = "SensorDevice01"


@dataclass(frozen=True)
class DeviceRollback:
    device: str
    ran: OperatorCommand
    # The device's settings after the rollback, by setting name (as sandbox.demo.fleet_settings reads them).
    settings: dict[str, str]


def roll_back_device(sandbox: Any, stack_name: str, audit_task_id: str, settings: Any) -> DeviceRollback:
    """`settings` reads the fleet's settings (sandbox.demo.fleet_settings for the demo's things)."""
    ran = run_operator_command(
        sandbox, ["rollback", audit_task_id, "--thing", ROLLED_BACK_DEVICE, "--stack", stack_name]
    )
    return DeviceRollback(
        device=ROLLED_BACK_DEVICE,
        ran=ran,
        settings={s.name: s.value for s in settings() if s.subject == ROLLED_BACK_DEVICE},
    )
