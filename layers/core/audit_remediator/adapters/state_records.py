"""Pre-state and verification records in RemediationTable (their shape: audit_remediator.resource_state)."""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.checks import ActionType
from audit_remediator.errors import ResourceStateError
from audit_remediator.impact import AuditFindingView, attempt_resource
from audit_remediator.resource_state import StateRecord, record_keys, task_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StateRecords:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_first(
        self,
        audit_task_id: str,
        task_id: str,
        finding: AuditFindingView,
        action_names: Sequence[str],
        action_types: Iterable[ActionType],
        before: Mapping[str, Any],
        expires_at: int,
    ) -> None:
        keys = record_keys(audit_task_id, task_id, finding.finding_id)
        item: dict[str, Any] = {
            "pk": {"S": keys["pk"]},
            "sk": {"S": keys["sk"]},
            "kind": {"S": "pre-state"},
            "auditTaskId": {"S": audit_task_id},
            "taskId": {"S": task_id},
            "findingId": {"S": finding.finding_id},
            "check": {"S": finding.check},
            "byResource": {"S": attempt_resource(finding.resource_identifier)},
            "resourceIdentifier": {"S": json.dumps(finding.resource_identifier, sort_keys=True)},
            "actionNames": {"L": [{"S": name} for name in action_names]},
            "actionTypes": {"L": [{"S": str(kind)} for kind in action_types]},
            "before": {"S": json.dumps(before, sort_keys=True)},
            "recordedAt": {"S": _now()},
            "expiresAt": {"N": str(expires_at)},
        }
        if finding.finding_time:
            item["findingTime"] = {"S": finding.finding_time}
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return
            raise ResourceStateError(
                f"recording the pre-state of {finding.finding_id} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise ResourceStateError(
                f"recording the pre-state of {finding.finding_id} failed: {error}"
            ) from error

    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[StateRecord], dict[str, Any] | None]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :task)",
            "ExpressionAttributeValues": {
                ":pk": {"S": record_keys(audit_task_id, task_id, "")["pk"]},
                ":task": {"S": task_prefix(task_id)},
            },
            "ProjectionExpression": "findingId, #check, resourceIdentifier, actionNames, #before, findingTime",
            "ExpressionAttributeNames": {"#check": "check", "#before": "before"},
            "ConsistentRead": True,
            "Limit": page_size,
        }
        if cursor:
            params["ExclusiveStartKey"] = dict(cursor)
        try:
            result = self._client.query(**params)
        except (ClientError, BotoCoreError) as error:
            raise ResourceStateError(f"reading the pre-state of task {task_id} failed: {error}") from error
        records = [
            StateRecord(
                finding_id=item["findingId"]["S"],
                check=item["check"]["S"],
                resource_identifier=json.loads(item["resourceIdentifier"]["S"]),
                action_names=tuple(name["S"] for name in item["actionNames"]["L"]),
                before=json.loads(item["before"]["S"]),
                finding_time=item.get("findingTime", {}).get("S"),
            )
            for item in result.get("Items", [])
        ]
        last = result.get("LastEvaluatedKey")
        return records, (dict(last) if last else None)

    def put_verification(
        self,
        audit_task_id: str,
        task_id: str,
        finding_id: str,
        result: str,
        observed: Mapping[str, Any],
        reasons: Sequence[str],
        iot_status: str,
    ) -> None:
        keys = record_keys(audit_task_id, task_id, finding_id)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": keys["pk"]}, "sk": {"S": keys["sk"]}},
                UpdateExpression=(
                    "SET verification = :result, observed = :observed, reasons = :reasons, "
                    "iotStatus = :status, verifiedAt = :at"
                ),
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeValues={
                    ":result": {"S": result},
                    ":observed": {"S": json.dumps(observed, sort_keys=True)},
                    ":reasons": {"S": json.dumps(list(reasons))},
                    ":status": {"S": iot_status},
                    ":at": {"S": _now()},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise ResourceStateError(f"recording the verification of {finding_id} failed: {error}") from error
