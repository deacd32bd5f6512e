"""The request context each AWS service sends when it assumes a role or acts as its service principal:
which of aws:SourceArn and aws:SourceAccount it carries, and their values, each with its source.

Where AWS documents no value, the sandbox plays a reading (`Readings`) and the tests run each one:
a condition on a key the service does not send denies silently, which is how a trust or key policy
can pass every test and still stop every delivery in an account.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol


class _Located(Protocol):
    region: str
    account_id: str


class IotReading(enum.Enum):
    """What AWS IoT sends when it assumes a role for Device Defender. The Device Defender developer
    guide, "Cross-service confused deputy prevention", gives the values (the mitigation action's ARN
    for an action's role, `arn:aws:iot:REGION:ACCOUNT:` for the audit and notification roles) but not
    that IoT sends them at run time."""

    SOURCE_OF_THE_ROLE = "source-of-the-role"
    NO_SOURCE_KEYS = "no-source-keys"


class KeyReading(enum.Enum):
    """Whether a service that uses a KMS key for a delivery (SNS to an encrypted queue, CloudWatch to
    an encrypted topic) sends aws:SourceArn and aws:SourceAccount to KMS. AWS documents that
    EventBridge does not (SNS developer guide, "Key management": not supported for
    EventBridge-to-encrypted topics) and is silent about the others."""

    NOT_SENT = "not-sent"
    SENT = "sent"


@dataclass(frozen=True)
class Readings:
    iot: IotReading = IotReading.SOURCE_OF_THE_ROLE
    keys: KeyReading = KeyReading.NOT_SENT


def lambda_assume_context(_d: _Located) -> dict[str, Any]:
    """Lambda assuming a function's execution role: no source key is documented (Lambda developer
    guide, "Lambda execution role", shows a trust policy without conditions), so none is sent."""
    return {}


def states_assume_context(d: _Located, state_machine_arn: str) -> dict[str, Any]:
    """Step Functions assuming a state machine's role: aws:SourceArn the state machine's ARN and
    aws:SourceAccount its account (Step Functions developer guide, "Creating an IAM role for your state
    machine", whose trust policy conditions on `stateMachine:*`)."""
    return {"aws:SourceArn": state_machine_arn, "aws:SourceAccount": d.account_id}


def iot_assume_context(reading: IotReading, *, account: str, source_arn: str) -> dict[str, Any]:
    if reading is IotReading.NO_SOURCE_KEYS:
        return {}
    return {"aws:SourceAccount": account, "aws:SourceArn": source_arn}


def events_assume_context(account: str, rule_arn: str) -> dict[str, Any]:
    """EventBridge assuming a target's role: the rule's ARN and account (EventBridge user guide,
    "Cross-service confused deputy prevention")."""
    return {"aws:SourceArn": rule_arn, "aws:SourceAccount": account}


def delivery_context(principal: str, target_service: str, *, source_arn: str, account: str) -> dict[str, Any]:
    """What a service principal's delivery to a topic, queue or function carries.

    - SNS to Lambda: aws:SourceArn the topic only; the Lambda developer guide ("Using Lambda with
      Amazon SNS") warns that a source-account condition denies SNS's invocations.
    - Otherwise both keys, aws:SourceArn the resource the delivery is for (EventBridge: the rule,
      EventBridge user guide "Using dead-letter queues"; SNS: the topic, SNS developer guide "Amazon SNS
      dead-letter queues"; CloudWatch: the alarm, as its alarm history shows a refused publish), as the
      IAM user guide ("AWS global condition context keys") says of service-to-service requests.
    """
    if principal == "sns.amazonaws.com" and target_service == "lambda":
        return {"aws:SourceArn": source_arn}
    return {"aws:SourceArn": source_arn, "aws:SourceAccount": account}


def delivery_key_context(
    readings: Readings, principal: str, *, source_arn: str, account: str
) -> dict[str, Any]:
    """What KMS receives when a delivering service uses the target's key for it."""
    if principal == "events.amazonaws.com" or readings.keys is KeyReading.NOT_SENT:
        return {}
    return {"aws:SourceArn": source_arn, "aws:SourceAccount": account}
