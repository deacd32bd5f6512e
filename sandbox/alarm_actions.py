"""CloudWatch alarm actions that notify SNS topics, which moto records but never performs.

When an alarm changes state (`SetAlarmState` in the tests) and its actions are enabled, each SNS
topic among the new state's actions gets the alarm's notification, published by CloudWatch as
cloudwatch.amazonaws.com on behalf of the alarm (CloudWatch user guide, "Using Amazon CloudWatch
alarms", alarm actions; the topic's and its key's policies must allow it, sandbox.iam).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from sandbox.iam.documents import Arn
from sandbox.iam.enforcement import Enforcement
from sandbox.iam.requests import WRITE_KEY_ACTIONS, Access
from sandbox.patching import Patch, patch_attribute, restore_patches

CLOUDWATCH: Final = "cloudwatch.amazonaws.com"


def alarm_message(alarm: Any, old_state: str) -> str:
    """The notification CloudWatch sends to SNS for a metric alarm's state change (its main fields)."""
    return json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": alarm.alarm_arn.split(":")[4],
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "Region": alarm.region_name,
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": old_state,
        }
    )


class AlarmActions:
    def __init__(self, iam: Enforcement) -> None:
        self._iam = iam
        self._patches: list[Patch] = []

    def install(self) -> None:
        from moto.cloudwatch.models import Alarm

        original = Alarm.__dict__["update_state"]
        actions = self

        def update_state(alarm: Any, reason: str, reason_data: str, state_value: str) -> None:
            old_state = alarm.state_value
            original(alarm, reason, reason_data, state_value)
            if old_state != state_value and alarm.actions_enabled:
                actions.notify(alarm, old_state)

        patch_attribute(self._patches, Alarm, "update_state", update_state)

    def uninstall(self) -> None:
        restore_patches(self._patches)

    def notify(self, alarm: Any, old_state: str) -> None:
        from moto.sns.models import sns_backends

        targets = {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
        }.get(alarm.state_value, [])
        for target in targets:
            if ":sns:" not in target:
                continue
            access = Access("sns:Publish", target, "topic", key_actions=WRITE_KEY_ACTIONS)
            if self._iam.deliver(CLOUDWATCH, access, source_arn=alarm.alarm_arn, operation="Publish"):
                topic = Arn.parse(target)
                sns_backends[topic.account][topic.region].publish(alarm_message(alarm, old_state), arn=target)
