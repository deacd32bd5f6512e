"""Releasing a thing from the quarantine group: RemoveThingFromThingGroup on that group only, so the thing
keeps every other group it is in."""

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import QuarantineTimerError

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient


class QuarantineGroup:
    def __init__(self, client: "IoTClient") -> None:
        self._client = client

    def remove(self, group: str, thing: str) -> None:
        try:
            self._client.remove_thing_from_thing_group(thingGroupName=group, thingName=thing)
        except (ClientError, BotoCoreError) as error:
            raise QuarantineTimerError(
                f"IoT RemoveThingFromThingGroup {group} {thing} failed: {error}"
            ) from error
