"""AWS IoT Device Defender Audit emulator for the sandbox (served through botocore hooks over moto)."""

from sandbox.device_defender.clock import Clock, ManualClock, SystemClock
from sandbox.device_defender.emulator import OPERATIONS, DeviceDefenderEmulator, PublishedMessage
from sandbox.device_defender.errors import ContractViolation, ServiceError
from sandbox.device_defender.hooks import patch_client
from sandbox.device_defender.seeding import SeededAudit
from sandbox.device_defender.state import Connection

__all__ = [
    "OPERATIONS",
    "Clock",
    "Connection",
    "ContractViolation",
    "DeviceDefenderEmulator",
    "ManualClock",
    "PublishedMessage",
    "SeededAudit",
    "ServiceError",
    "SystemClock",
    "patch_client",
]
