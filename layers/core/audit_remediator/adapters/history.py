"""RemediationTable: decision records, who handles each check of an audit, and the per-finding inbox."""

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError
from audit_remediator.models.plan import Claim, FindingClaim, FindingWindowPlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# The owner of a check whose findings go through finding windows (an audit's owner is its execution name).
FINDINGS_OWNER = "finding-windows"

# What the decision log says of one audit's notification (reconciliation reads it):
# decided   - handled: a decision that started nothing, a finished run, or checks owned by an execution
#             planned under another rules version (a sweep must not plan that audit again);
# held      - stopped by the kill switch: the notification waits in the on-failure queue for the operator;
# undecided - nothing, or only this rules version's claims: the notification may never have been
#             handled (or its start failed after the claim), so the audit goes through the same path.
AuditDecision = Literal["decided", "held", "undecided"]


def audit_decision(records: Iterable[tuple[str, str]], rules_version: str) -> AuditDecision:
    """The decision log's answer for one audit from its records' (sort key, ownedBy); finding
    windows' records say nothing of the audit's own notification."""
    held = False
    for sort_key, owned_by in records:
        kind, _, rest = sort_key.partition("#")
        parts = rest.split("#")
        decision_of_the_audit = kind in ("DECISION", "SUMMARY") and len(parts) == 1
        claimed_under_other_rules = (
            kind == "OWNER" and owned_by not in ("", FINDINGS_OWNER) and parts[0] != rules_version
        )
        if decision_of_the_audit or claimed_under_other_rules:
            return "decided"
        held = held or (kind == "DECISION" and parts[1:] == ["PAUSED"])
    return "held" if held else "undecided"


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

    def audit_decision(self, audit_task_id: str, rules_version: str) -> AuditDecision:
        """What the decision log holds for the audit's own notification (see `audit_decision`)."""
        try:
            pages = self._client.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"AUDIT#{audit_task_id}"}},
                ProjectionExpression="sk, ownedBy",
                ConsistentRead=True,
            )
            records = [
                (item["sk"]["S"], item.get("ownedBy", {}).get("S", ""))
                for page in pages
                for item in page.get("Items", [])
            ]
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(
                f"reading the decision log of audit {audit_task_id} failed: {error}"
            ) from error
        return audit_decision(records, rules_version)

    def _owner_key(self, audit_task_id: str, rules_version: str, check: str) -> dict[str, Any]:
        return {"pk": {"S": f"AUDIT#{audit_task_id}"}, "sk": {"S": f"OWNER#{rules_version}#{check}"}}

    def claim_checks(
        self, audit_task_id: str, rules_version: str, checks: list[str], execution_name: str
    ) -> dict[str, str]:
        """Make the audit's execution the owner of every check it covers that nobody owns yet.

        Returns the checks another owner (the finding windows) holds, with that owner. One transaction
        per attempt: DynamoDB serialises it with every finding's claim on the same ownership items, so a
        check is owned by the audit or by the findings, never both. A re-delivery finds its own
        ownership and gets the same answer; a check once owned never changes owner, so each retry
        drops at least one check and the loop ends.
        """
        others: dict[str, str] = {}
        pending = sorted(set(checks))
        while pending:
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": {
                                    **self._owner_key(audit_task_id, rules_version, check),
                                    "ownedBy": {"S": execution_name},
                                    "expiresAt": self._expires_at(),
                                },
                                "ConditionExpression": "attribute_not_exists(pk) OR ownedBy = :me",
                                "ExpressionAttributeValues": {":me": {"S": execution_name}},
                            }
                        }
                        for check in pending
                    ]
                )
            except ClientError as error:
                reasons = error.response.get("CancellationReasons", [])
                codes = [reason.get("Code") for reason in reasons]
                if (
                    _error_code(error) != "TransactionCanceledException"
                    or "ConditionalCheckFailed" not in codes
                ):
                    raise AwsCallError(
                        f"claiming the checks of audit {audit_task_id} failed: {error}"
                    ) from error
                taken = [
                    check
                    for check, code in zip(pending, codes, strict=True)
                    if code == "ConditionalCheckFailed"
                ]
                for check in taken:
                    others[check] = self._owner(audit_task_id, rules_version, check)
                pending = [check for check in pending if check not in others]
            except BotoCoreError as error:
                raise AwsCallError(f"claiming the checks of audit {audit_task_id} failed: {error}") from error
            else:
                break
        return others

    def _owner(self, audit_task_id: str, rules_version: str, check: str) -> str:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key=self._owner_key(audit_task_id, rules_version, check),
                ConsistentRead=True,
            ).get("Item", {})
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(
                f"reading who handles {check} of audit {audit_task_id} failed: {error}"
            ) from error
        return str(item.get("ownedBy", {}).get("S", ""))

    def _own_for_findings(self, plan: FindingWindowPlan, claim: FindingClaim) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._owner_key(plan.audit_task_id, plan.rules_version, claim.check),
                    "ownedBy": {"S": FINDINGS_OWNER},
                    "expiresAt": self._expires_at(),
                },
                ConditionExpression="attribute_not_exists(pk) OR ownedBy = :findings",
                ExpressionAttributeValues={":findings": {"S": FINDINGS_OWNER}},
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise AwsCallError(
                f"claiming {claim.check} for finding {claim.finding_id} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise AwsCallError(
                f"claiming {claim.check} for finding {claim.finding_id} failed: {error}"
            ) from error
        return True

    def claim_finding(
        self, plan: FindingWindowPlan, claim: FindingClaim, execution_name: str, execution_input: str
    ) -> Claim:
        """Put the finding into its window's inbox, once per (audit, finding, rules version).

        First the finding windows become the owner of the finding's check, unless the audit's own
        execution owns it already (then the finding is covered). That is a single-item conditional
        put, not part of the transaction: a burst of findings of one check would otherwise conflict
        on the shared item (TransactionConflict), and once the windows own a check nothing takes it
        from them. Then one transaction writes the claim and the inbox entry. A re-delivery gets the
        execution the first delivery recorded, so the caller can make sure that execution exists.
        """
        if not self._own_for_findings(plan, claim):
            return Claim("covered", "", "")
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
                ]
            )
        except ClientError as error:
            codes = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if _error_code(error) != "TransactionCanceledException" or codes[:1] != [
                "ConditionalCheckFailed"
            ]:
                raise AwsCallError(f"claiming finding {claim.finding_id} failed: {error}") from error
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
