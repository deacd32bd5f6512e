"""The request context each AWS service sends when it assumes a role or acts as its service principal:
which of aws:SourceArn and aws:SourceAccount it carries, and their values, each with its source.

Where AWS documents no value, the sandbox plays a reading (`IotReading`) and the tests run both.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol


class _Located(Protocol):
    region: str
    account_id: str


def lambda_assume_context(_d: _Located) -> dict[str, Any]:
    """Lambda assuming a function's execution role: no source key is documented (Lambda developer
    guide, "Defining Lambda function permissions with an execution role" shows a trust policy without
    conditions), so none is sent."""
    return {}


def states_assume_context(d: _Located, state_machine_arn: str) -> dict[str, Any]:
    """Step Functions assuming a state machine's role: aws:SourceArn is the state machine's ARN and
    aws:SourceAccount its account (Step Functions developer guide, "Cross-service confused deputy
    prevention")."""
    return {"aws:SourceArn": state_machine_arn, "aws:SourceAccount": d.account_id}


class IotReading(enum.Enum):
    """What AWS IoT sends when it assumes a role for Device Defender, which AWS does not state exactly."""

    # aws:SourceAccount, and aws:SourceArn the ARN of the resource the role was given to: the
    # mitigation action for an action's role, the account's audit configuration otherwise.
    SOURCE_OF_THE_ROLE = "source-of-the-role"
    # No source key at all.
    NO_SOURCE_KEYS = "no-source-keys"


def iot_assume_context(reading: IotReading, *, account: str, source_arn: str) -> dict[str, Any]:
    if reading is IotReading.NO_SOURCE_KEYS:
        return {}
    return {"aws:SourceAccount": account, "aws:SourceArn": source_arn}
