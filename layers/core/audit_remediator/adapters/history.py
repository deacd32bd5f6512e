"""RemediationTable: decision records and the per-finding inbox."""

import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError
from audit_remediator.models.plan import Claim, FindingClaim, FindingWindowPlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class RemediationHistory:
    def __init__(self, client: "DynamoDBClient", table_name: str, retention_days: int) -> None:
        self._client = client
        self._table = table_name
        self._retention_seconds = retention_days * 86400

    def _expires_at(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + self._retention_seconds)}

    def record_decision(self, audit_task_id: str, record_key: str, decision: dict[str, Any]) -> None:
        """One record per decision that started nothing (key: rules version, and finding id for a finding)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"AUDIT#{audit_task_id}"},
                    "sk": {"S": f"DECISION#{record_key}"},
                    "decision": {"S": json.dumps(decision, separators=(",", ":"), sort_keys=True)},
                    "recordedAt": {"N": str(int(time.time()))},
                    "expiresAt": self._expires_at(),
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"recording the decision for audit {audit_task_id} failed: {error}") from error

    def record_coverage(
        self, audit_task_id: str, rules_version: str, checks: list[str], execution_name: str
    ) -> None:
        """The checks an audit's execution handles, written before it starts: a per-finding message
        for one of them is then already covered and never becomes a second task."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"AUDIT#{audit_task_id}"},
                    "sk": {"S": f"COVERAGE#{rules_version}"},
                    "checks": {"SS": sorted(set(checks))},
                    "executionName": {"S": execution_name},
                    "expiresAt": self._expires_at(),
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"recording what audit {audit_task_id} covers failed: {error}") from error

    def claim_finding(
        self, plan: FindingWindowPlan, claim: FindingClaim, execution_name: str, execution_input: str
    ) -> Claim:
        """Put the finding into its window's inbox, once per (audit, finding, rules version).

        One transaction writes the claim and the inbox entry, and checks that the audit's own
        execution does not already cover the finding's check. A re-delivery gets the execution the
        first delivery recorded, so the caller can make sure that execution exists.
        """
        claim_key = {
            "pk": {"S": f"FINDING#{plan.audit_task_id}#{claim.finding_id}"},
            "sk": {"S": f"CLAIM#{plan.rules_version}"},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **claim_key,
                                "inboxKey": {"S": plan.window.inbox_key},
                                "executionName": {"S": execution_name},
                                "executionInput": {"S": execution_input},
                                "expiresAt": self._expires_at(),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": plan.window.inbox_key},
                                "sk": {"S": f"FINDING#{claim.finding_id}"},
                                "findingId": {"S": claim.finding_id},
                                "checkName": {"S": claim.check},
                                "reasonCode": {"S": claim.reason_code},
                                "expiresAt": self._expires_at(),
                            },
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": {
                                "pk": {"S": f"AUDIT#{plan.audit_task_id}"},
                                "sk": {"S": f"COVERAGE#{plan.rules_version}"},
                            },
                            "ConditionExpression": "attribute_not_exists(pk) OR NOT contains(checks, :check)",
                            "ExpressionAttributeValues": {":check": {"S": claim.check}},
                        }
                    },
                ]
            )
        except ClientError as error:
            codes = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if _error_code(error) != "TransactionCanceledException" or "ConditionalCheckFailed" not in codes:
                raise AwsCallError(f"claiming finding {claim.finding_id} failed: {error}") from error
            if codes[0] != "ConditionalCheckFailed":
                return Claim("covered", "", "")
        except BotoCoreError as error:
            raise AwsCallError(f"claiming finding {claim.finding_id} failed: {error}") from error
        else:
            return Claim("new", execution_name, execution_input)
        try:
            item = self._client.get_item(TableName=self._table, Key=claim_key, ConsistentRead=True).get(
                "Item", {}
            )
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"reading the claim of finding {claim.finding_id} failed: {error}") from error
        return Claim("earlier", item["executionName"]["S"], item["executionInput"]["S"])
