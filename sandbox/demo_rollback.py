"""The demo's rollback of one device. SensorDevice01 shares its certificate with SensorDevice02, so
`remediator rollback --thing SensorDevice01` is refused (reactivating the certificate would free its twin
too); the operator then rolls back the whole finding as the refusal says, and the device's settings are read
again to compare with its "before" column."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.operator_command import OperatorCommand, run_operator_command

ROLLED_BACK_DEVICE = "SensorDevice01"


@dataclass(frozen=True)
class DeviceRollback:
    device: str
    # `--thing` alone, with --json: refused, its item naming the finding to roll back instead.
    refused: OperatorCommand
    refusal: dict[str, Any]
    ran: OperatorCommand
    # The device's settings after the rollback, by setting name (as sandbox.demo.fleet_settings reads them).
    settings: dict[str, str]


def _refusal(attempt: OperatorCommand) -> dict[str, Any]:
    try:
        document = json.loads(attempt.output)
    except json.JSONDecodeError:
        return {}
    items = document.get("items") or [{}]
    return {"refusedShared": document.get("refusedShared", 0), **items[0]}


def roll_back_device(sandbox: Any, stack_name: str, audit_task_id: str, settings: Any) -> DeviceRollback:
    """`settings` reads the fleet's settings (sandbox.demo.fleet_settings for the demo's things)."""
    base = ["rollback", audit_task_id, "--stack", stack_name]
    attempt = run_operator_command(sandbox, [*base, "--thing", ROLLED_BACK_DEVICE, "--json"])
    refusal = _refusal(attempt)
    finding = refusal.get("findingId")
    ran = run_operator_command(sandbox, [*base, "--finding", finding]) if finding else attempt
    return DeviceRollback(
        device=ROLLED_BACK_DEVICE,
        refused=attempt,
        refusal=refusal,
        ran=ran,
        settings={s.name: s.value for s in settings() if s.subject == ROLLED_BACK_DEVICE},
    )
