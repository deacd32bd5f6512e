"""Turns the account's Security Hub on beside the Device Defender emulator, with Device Defender Audit's integration
accepted or not: the hub then holds what the emulator's audits send (`sandbox.securityhub.hub`)."""

from __future__ import annotations

from typing import Any

from sandbox.securityhub import hooks
from sandbox.securityhub.asff import IdReading
from sandbox.securityhub.hub import SecurityHub


def enable_security_hub(
    emulator: Any, *, accept_audit_findings: bool = True, id_reading: IdReading = IdReading.DOCUMENTED
) -> SecurityHub:
    """Security Hub enabled for the emulator's account and Region (until `disable_security_hub`);
    `emulator` is a `DeviceDefenderEmulator` (a sandbox's `emulator`)."""
    if emulator is None:
        raise RuntimeError("Security Hub's Device Defender integration needs the Device Defender emulator")
    hub = SecurityHub(
        account_id=emulator.account_id,
        region=emulator.region,
        enabled=True,
        accepts_audit_findings=accept_audit_findings,
        id_reading=id_reading,
    )
    hub.sources.append(lambda: hub.deliver(emulator.audit_tasks(), emulator.audit_findings))
    hooks.activate(hub)
    return hub


def disable_security_hub(hub: SecurityHub) -> None:
    hooks.deactivate(hub)
