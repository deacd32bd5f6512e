"""How many things the account has, and how many a thing group holds, counted page by page from IoT."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient


class IotFleetCounts:
    def __init__(self, client: "IoTClient") -> None:
        self._client = client

    def _count(self, operation: str, **params: Any) -> int:
        try:
            pages = self._client.get_paginator(operation).paginate(  # type: ignore[call-overload]
                **params, PaginationConfig={"PageSize": 250}
            )
            return sum(len(page.get("things", [])) for page in pages)
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"iot:{operation} failed: {error}") from error

    def fleet_size(self) -> int:
        return self._count("list_things")

    def group_size(self, group_name: str) -> int:
        # The quarantine group has no child groups: its own things are the quarantined devices.
        return self._count("list_things_in_thing_group", thingGroupName=group_name, recursive=False)
