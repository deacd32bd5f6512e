"""Remediation attempts per resource in RemediationTable: `RESOURCE#<resource>` / `ATTEMPT#<taskId>`,
one item per planned task (a retried analysis writes the same item), expiring with the rule's window."""

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AnalysisReadError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AttemptHistory:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def attempts_since(self, resource: str, since_epoch: int, excluding_task: str) -> int:
        """Attempts recorded after `since_epoch`; TTL deletes lag, so the time is compared, not trusted."""
        try:
            pages = self._client.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :attempt)",
                ExpressionAttributeValues={
                    ":pk": {"S": f"RESOURCE#{resource}"},
                    ":attempt": {"S": "ATTEMPT#"},
                },
                ProjectionExpression="sk, attemptedAt",
                ConsistentRead=True,
            )
            items = [item for page in pages for item in page.get("Items", [])]
        except (ClientError, BotoCoreError) as error:
            raise AnalysisReadError(f"reading the attempts on {resource} failed: {error}") from error
        return sum(
            1
            for item in items
            if item["sk"]["S"] != f"ATTEMPT#{excluding_task}" and int(item["attemptedAt"]["N"]) >= since_epoch
        )

    def record(self, resource: str, task_id: str, at_epoch: int, expires_epoch: int) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"RESOURCE#{resource}"},
                    "sk": {"S": f"ATTEMPT#{task_id}"},
                    "kind": {"S": "attempt"},
                    "taskId": {"S": task_id},
                    "attemptedAt": {"N": str(at_epoch)},
                    "expiresAt": {"N": str(expires_epoch)},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise AnalysisReadError(f"recording the attempt on {resource} failed: {error}") from error
