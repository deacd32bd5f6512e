"""What every emulated operation's handler receives, and the helpers they share (times, paging)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from botocore.utils import parse_to_aware_datetime
from moto.iot.models import IoTBackend

from sandbox.device_defender.action_permissions import RoleAuthority
from sandbox.device_defender.clock import Clock
from sandbox.device_defender.errors import invalid_request
from sandbox.device_defender.logging_reading import RoleOmitted
from sandbox.device_defender.state import RegionState

DEFAULT_PAGE_SIZE: Final = 25

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Service:
    """The emulator's settings and collaborators as they are at the time of one call."""

    account_id: str
    clock: Clock
    audit_seconds: float
    mitigation_task_seconds: float
    max_in_progress_audits: int
    max_in_progress_mitigation_tasks: int
    new_id: Callable[[], uuid.UUID]
    iot: Callable[[str], IoTBackend]
    topic_exists: Callable[[str], bool]
    # (kind, topic ARN, message): published once the call has released the emulator's lock.
    queue_message: Callable[[str, str, str], None]
    # IAM for the roles IoT assumes (None: not checked).
    authority: RoleAuthority | None = None
    # Fault injection: action types IoT reports COMPLETED without their effect holding (a lost write, or a
    # change undone at once by another process), so that only reading the resource back can tell.
    ineffective_action_types: frozenset[str] = frozenset()
    # How SetV2LoggingOptions treats a request without a role (unconfirmed: see logging_options).
    logging_role_omitted: RoleOmitted = RoleOmitted.REPLACES

    def arn(self, region: str, resource: str) -> str:
        return f"arn:aws:iot:{region}:{self.account_id}:{resource}"


@dataclass(frozen=True)
class Call:
    """One validated request, with the Region's records it applies to."""

    state: RegionState
    region: str
    params: Params
    service: Service


Handler = Callable[[Call], dict[str, Any]]


def timestamp(value: Any) -> datetime:
    return parse_to_aware_datetime(value).astimezone(UTC)


def present(mapping: Params) -> set[str]:
    return {k for k, v in mapping.items() if v is not None}


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def page(operation: str, items: list[Any], p: Params, key: str) -> dict[str, Any]:
    """One page of `items` under `key`; the next token is opaque to callers and bound to `operation`."""
    size = p.get("maxResults") or DEFAULT_PAGE_SIZE
    offset = 0
    token = p.get("nextToken")
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(decoded["offset"])
            valid = decoded["operation"] == operation and 0 <= offset <= len(items)
        except (ValueError, KeyError, TypeError, binascii.Error):
            valid = False
        if not valid:
            raise invalid_request("The nextToken is not valid.")
    result: dict[str, Any] = {key: items[offset : offset + size]}
    if offset + size < len(items):
        raw = json.dumps({"operation": operation, "offset": offset + size}).encode()
        result["nextToken"] = base64.urlsafe_b64encode(raw).decode()
    return result
