"""Pre-state records as a rollback reads them (one Query page of an audit's records) and the rollback
attributes it writes onto each (shape: audit_remediator.resource_state)."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import ResourceStateError
from audit_remediator.models.rollback import Cursor, RollbackResult
from audit_remediator.resource_state import record_keys
from audit_remediator.rollback import RollbackRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_PROJECTION = "findingId, taskId, #check, actionNames, #before, observed, rollbackResult"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(item: Mapping[str, Any]) -> RollbackRecord:
    observed = item.get("observed", {}).get("S")
    return RollbackRecord(
        finding_id=item["findingId"]["S"],
        task_id=item["taskId"]["S"],
        check=item["check"]["S"],
        action_names=tuple(name["S"] for name in item["actionNames"]["L"]),
        before=json.loads(item["before"]["S"]),
        observed=json.loads(observed) if observed else None,
        rollback_result=item.get("rollbackResult", {}).get("S"),
    )


class RollbackRecords:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def page(
        self, audit_task_id: str, cursor: Cursor | None, page_size: int, finding_id: str | None
    ) -> tuple[list[RollbackRecord], Cursor | None]:
        values: dict[str, Any] = {":pk": {"S": record_keys(audit_task_id, "", "")["pk"]}}
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": {"#check": "check", "#before": "before"},
            "ConsistentRead": True,
            "Limit": page_size,
        }
        if finding_id:
            params["FilterExpression"] = "findingId = :finding"
            values[":finding"] = {"S": finding_id}
        params["ExpressionAttributeValues"] = values
        if cursor:
            params["ExclusiveStartKey"] = dict(cursor)
        try:
            result = self._client.query(**params)
        except (ClientError, BotoCoreError) as error:
            raise ResourceStateError(
                f"reading the pre-state of audit {audit_task_id} failed: {error}"
            ) from error
        last = result.get("LastEvaluatedKey")
        next_cursor: Cursor | None = (
            {"pk": {"S": str(last["pk"]["S"])}, "sk": {"S": str(last["sk"]["S"])}} if last else None
        )
        return [_record(item) for item in result.get("Items", [])], next_cursor

    def put_result(
        self,
        audit_task_id: str,
        record: RollbackRecord,
        result: RollbackResult,
        caller_arn: str,
        observed: Mapping[str, Any],
    ) -> None:
        keys = record_keys(audit_task_id, record.task_id, record.finding_id)
        condition = "attribute_exists(sk)"
        values: dict[str, Any] = {
            ":at": {"S": _now()},
            ":by": {"S": caller_arn},
            ":result": {"S": result},
            ":observed": {"S": json.dumps(observed, sort_keys=True)},
        }
        if result in ("already-restored", "refused-drifted"):
            # A later run that finds the resource restored, or changed again, keeps who restored it and when.
            condition += (
                " AND (attribute_not_exists(rollbackResult) OR NOT rollbackResult IN (:restored, :forced))"
            )
            values |= {":restored": {"S": "restored"}, ":forced": {"S": "forced"}}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": keys["pk"]}, "sk": {"S": keys["sk"]}},
                UpdateExpression=(
                    "SET rolledBackAt = :at, rolledBackBy = :by, rollbackResult = :result, "
                    "rollbackObserved = :observed"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return
            raise ResourceStateError(
                f"recording the rollback of {record.finding_id} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise ResourceStateError(
                f"recording the rollback of {record.finding_id} failed: {error}"
            ) from error
