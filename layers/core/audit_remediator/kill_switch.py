"""The kill switch, as the function reads it: `released` lets remediation start, anything else stops it.

The switch is a Systems Manager parameter the stack owns (its name is the stack output
KillSwitchParameterName). Pulled, unreadable or holding an unknown value, it reads as pulled: an
error reading the switch starts nothing.
"""

from dataclasses import dataclass
from typing import Final, Literal, Protocol

from audit_remediator.errors import RemediatorError

RELEASED: Final = "released"
PULLED: Final = "pulled"
SwitchPosition = Literal["released", "pulled"]


@dataclass(frozen=True, slots=True)
class SwitchReading:
    position: SwitchPosition
    reason: str

    @property
    def pulled(self) -> bool:
        return self.position == PULLED


class KillSwitch(Protocol):
    def read(self) -> SwitchReading: ...


class KillSwitchPulledError(RemediatorError):
    """The kill switch stopped a start. The invocation fails on purpose, so Lambda keeps the event
    (retries, then the on-failure queue) and a delivery after the release starts it."""


def reading_of(value: str) -> SwitchReading:
    """What a value read from the parameter means."""
    if value == RELEASED:
        return SwitchReading("released", "kill switch released")
    if value == PULLED:
        return SwitchReading("pulled", "kill switch pulled")
    return SwitchReading(
        "pulled", f"kill switch holds {value[:40]!r}, neither released nor pulled: treated as pulled"
    )


def unreadable(detail: str) -> SwitchReading:
    return SwitchReading("pulled", f"kill switch unreadable, treated as pulled: {detail}")
