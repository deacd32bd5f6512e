"""Quarantine timers in RemediationTable (their shape: audit_remediator.quarantine_timers)."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import QuarantineTimerError
from audit_remediator.quarantine_timers import PENDING, RELEASED, FindingRef, NewTimer, Timer, timer_keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Timers read per Query page: a day with thousands of due timers is read page by page, never at once.
PAGE_SIZE: Final = 100
KIND: Final = "quarantine-timer"

_UPSERT: Final = (
    "SET kind = :kind, thingName = :thing, thingGroup = :group, dueDay = :due, "
    "#days = if_not_exists(#days, :days), quarantinedAt = if_not_exists(quarantinedAt, :at), "
    "quarantinedEpoch = if_not_exists(quarantinedEpoch, :epoch), #status = if_not_exists(#status, :pending), "
    "extensions = if_not_exists(extensions, :extensions) ADD findings :findings"
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TimerRecords:
    def __init__(self, client: "DynamoDBClient", table_name: str, retention_days: int = 400) -> None:
        self._client = client
        self._table = table_name
        self._retention = timedelta(days=retention_days)

    def _upsert(
        self,
        due: date,
        thing: str,
        group: str,
        days: int,
        quarantined_at: datetime,
        extensions: int,
        findings: list[str],
    ) -> dict[str, Any]:
        keys = timer_keys(due, thing, group)
        return {
            "TableName": self._table,
            "Key": {"pk": {"S": keys["pk"]}, "sk": {"S": keys["sk"]}},
            "UpdateExpression": _UPSERT,
            "ConditionExpression": "attribute_not_exists(#status) OR #status = :pending",
            "ExpressionAttributeNames": {"#days": "days", "#status": "status"},
            "ExpressionAttributeValues": {
                ":kind": {"S": KIND},
                ":thing": {"S": thing},
                ":group": {"S": group},
                ":due": {"S": due.isoformat()},
                ":days": {"N": str(days)},
                ":at": {"S": _iso(quarantined_at)},
                ":epoch": {"N": str(int(quarantined_at.timestamp()))},
                ":pending": {"S": PENDING},
                ":extensions": {"N": str(extensions)},
                ":findings": {"SS": findings},
            },
        }

    def start(self, timer: NewTimer) -> None:
        request = self._upsert(
            timer.due_day, timer.thing, timer.group, timer.days, timer.quarantined_at, 0, [timer.finding]
        )
        try:
            self._client.update_item(**request)
        except ClientError as error:
            if _failed(error):
                return  # the sweep decided this timer already: a late retry of the page adds nothing
            raise QuarantineTimerError(
                f"starting the quarantine timer of {timer.thing} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise QuarantineTimerError(
                f"starting the quarantine timer of {timer.thing} failed: {error}"
            ) from error

    def due(self, day: date) -> Iterator[Timer]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :thing)",
            "FilterExpression": "#status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":pk": {"S": timer_keys(day, "", "")["pk"]},
                ":thing": {"S": "THING#"},
                ":pending": {"S": PENDING},
            },
            "ConsistentRead": True,
            "Limit": PAGE_SIZE,
        }
        while True:
            try:
                page = self._client.query(**params)
            except (ClientError, BotoCoreError) as error:
                raise QuarantineTimerError(
                    f"reading the quarantine timers due {day} failed: {error}"
                ) from error
            for item in page.get("Items", []):
                yield Timer(
                    due_day=day,
                    thing=item["thingName"]["S"],
                    group=item["thingGroup"]["S"],
                    days=int(item["days"]["N"]),
                    quarantined_at=datetime.fromtimestamp(int(item["quarantinedEpoch"]["N"]), UTC),
                    extensions=int(item["extensions"]["N"]),
                    findings=tuple(FindingRef.from_json(ref) for ref in sorted(item["findings"]["SS"])),
                )
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def _decision(self, timer: Timer, status: str, outcome: dict[str, Any], at: datetime) -> dict[str, Any]:
        keys = timer_keys(timer.due_day, timer.thing, timer.group)
        return {
            "TableName": self._table,
            "Key": {"pk": {"S": keys["pk"]}, "sk": {"S": keys["sk"]}},
            "UpdateExpression": "SET #status = :status, decidedAt = :at, outcome = :outcome, expiresAt = :expires",
            "ConditionExpression": "#status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":status": {"S": status},
                ":at": {"S": _iso(at)},
                ":outcome": {"S": json.dumps(outcome, sort_keys=True)[:100_000]},
                ":expires": {"N": str(int((at + self._retention).timestamp()))},
                ":pending": {"S": PENDING},
            },
        }

    def release(self, timer: Timer, outcome: dict[str, Any], at: datetime) -> bool:
        try:
            self._client.update_item(**self._decision(timer, RELEASED, outcome, at))
        except ClientError as error:
            if _failed(error):
                return False
            raise QuarantineTimerError(f"recording the release of {timer.thing} failed: {error}") from error
        except BotoCoreError as error:
            raise QuarantineTimerError(f"recording the release of {timer.thing} failed: {error}") from error
        return True

    def move(
        self,
        timer: Timer,
        status: str,
        next_day: date,
        extensions: int,
        outcome: dict[str, Any],
        at: datetime,
    ) -> bool:
        decided = self._decision(timer, status, {**outcome, "next": next_day.isoformat()}, at)
        follow_up = self._upsert(
            next_day,
            timer.thing,
            timer.group,
            timer.days,
            timer.quarantined_at,
            extensions,
            [ref.to_json() for ref in timer.findings],
        )
        # A follow-up for the same thing may exist (another finding's timer moved there): it is merged.
        follow_up["UpdateExpression"] = follow_up["UpdateExpression"].replace(
            "extensions = if_not_exists(extensions, :extensions)", "extensions = :extensions"
        )
        try:
            items: Any = [{"Update": decided}, {"Update": follow_up}]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = error.response.get("CancellationReasons", [])
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
            raise QuarantineTimerError(
                f"recording the {status} quarantine of {timer.thing} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise QuarantineTimerError(
                f"recording the {status} quarantine of {timer.thing} failed: {error}"
            ) from error
        return True
