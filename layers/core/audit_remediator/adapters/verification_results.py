"""Verification results read back from the pre-state records (their shape: audit_remediator.resource_state):
one task's, page by page, and whether a resource was verified remediated by another audit."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import ResourceStateError
from audit_remediator.models.resource_state import VerificationResult
from audit_remediator.resource_state import record_keys, task_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RESULTS = ("verified", "not-verified")
RESOURCE_INDEX = "ByResource"


class TaskVerificationResults:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[tuple[str, VerificationResult]], dict[str, Any] | None]:
        """A record not verified yet (its verification failed) is left out; the cursor still moves past it."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :task)",
            "ExpressionAttributeValues": {
                ":pk": {"S": record_keys(audit_task_id, task_id, "")["pk"]},
                ":task": {"S": task_prefix(task_id)},
            },
            "ProjectionExpression": "findingId, verification",
            "ConsistentRead": True,
            "Limit": page_size,
        }
        if cursor:
            params["ExclusiveStartKey"] = dict(cursor)
        try:
            result = self._client.query(**params)
        except (ClientError, BotoCoreError) as error:
            raise ResourceStateError(f"reading the verification of task {task_id} failed: {error}") from error
        results = [
            (item["findingId"]["S"], cast(VerificationResult, item["verification"]["S"]))
            for item in result.get("Items", [])
            if item.get("verification", {}).get("S") in _RESULTS
        ]
        last = result.get("LastEvaluatedKey")
        return results, (dict(last) if last else None)


class EarlierVerifications:
    """Whether another audit already remediated a resource and verified it: its pre-state records through the
    ByResource index (a resource holds a handful: attempt limits keep it small)."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def verified_elsewhere(self, resource_key: str, audit_task_id: str) -> bool:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RESOURCE_INDEX,
            "KeyConditionExpression": "byResource = :resource",
            "FilterExpression": "verification = :verified AND auditTaskId <> :audit",
            "ExpressionAttributeValues": {
                ":resource": {"S": resource_key},
                ":verified": {"S": "verified"},
                ":audit": {"S": audit_task_id},
            },
            "Select": "COUNT",
        }
        while True:
            try:
                result = self._client.query(**params)
            except (ClientError, BotoCoreError) as error:
                raise ResourceStateError(f"reading the history of {resource_key} failed: {error}") from error
            if result.get("Count", 0) > 0:
                return True
            last = result.get("LastEvaluatedKey")
            if not last:
                return False
            params["ExclusiveStartKey"] = last
