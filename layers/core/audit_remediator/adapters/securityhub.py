"""Security Hub findings of Device Defender Audit: found by the Device Defender finding id they carry
and updated in batches.

Device Defender's native integration sends one Security Hub finding per non-compliant resource, check
and reason (`ProductFields.ReportType` `AuditFinding`) with the Device Defender finding id in
`ProductFields.FindingId`; its `Id` is not documented beyond one example, so it is never computed here:
findings are looked up with `GetFindings` filtered on the product, the account and that field.
Limits (botocore's Security Hub model): 20 values per filter attribute, 100 findings per page and per
`BatchUpdateFindings` call.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import SecurityHubCallError

FILTER_VALUES_PER_CALL: Final = 20
FINDINGS_PER_UPDATE: Final = 100


def audit_product_arn(partition: str, region: str) -> str:
    """Device Defender Audit's product ARN in Security Hub (IoT developer guide, Security Hub integration)."""
    return f"arn:{partition}:securityhub:{region}::product/aws/iot-device-defender-audit"


class SecurityHubClient(Protocol):
    def get_findings(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def batch_update_findings(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class HubFinding:
    finding_id: str  # Device Defender's
    id: str  # Security Hub's
    product_arn: str
    workflow_status: str
    record_state: str


@dataclass(frozen=True)
class Unprocessed:
    finding_id: str
    error_code: str
    error_message: str


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _call_error(operation: str, error: ClientError | BotoCoreError) -> SecurityHubCallError:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", str(error))
        return SecurityHubCallError(f"securityhub:{operation} failed: {code}: {message}", code=code)
    return SecurityHubCallError(f"securityhub:{operation} failed: {error}", code=type(error).__name__)


class AuditFindingsInSecurityHub:
    def __init__(self, client: SecurityHubClient, *, account_id: str, product_arn: str) -> None:
        self._client = client
        self._account_id = account_id
        self._product_arn = product_arn

    def find(
        self, finding_ids: Sequence[str]
    ) -> Iterator[tuple[Sequence[str], list[HubFinding] | SecurityHubCallError]]:
        """For each chunk of up to 20 ids: the Security Hub findings that carry them, or the error."""
        for chunk in _chunks(finding_ids, FILTER_VALUES_PER_CALL):
            try:
                yield chunk, list(self._find_chunk(chunk))
            except (ClientError, BotoCoreError) as error:
                yield chunk, _call_error("GetFindings", error)

    def _find_chunk(self, chunk: Sequence[str]) -> Iterable[HubFinding]:
        wanted = set(chunk)
        filters = {
            "ProductArn": [{"Value": self._product_arn, "Comparison": "EQUALS"}],
            "AwsAccountId": [{"Value": self._account_id, "Comparison": "EQUALS"}],
            "ProductFields": [{"Key": "FindingId", "Value": f, "Comparison": "EQUALS"} for f in chunk],
        }
        token: str | None = None
        while True:
            page = self._client.get_findings(
                Filters=filters, MaxResults=100, **({"NextToken": token} if token else {})
            )
            for finding in page.get("Findings", []):
                carried = finding.get("ProductFields", {}).get("FindingId")
                # The filter is the search; this check keeps a looser match from being updated.
                if carried in wanted and finding.get("AwsAccountId") == self._account_id:
                    yield HubFinding(
                        finding_id=carried,
                        id=finding["Id"],
                        product_arn=finding["ProductArn"],
                        workflow_status=finding.get("Workflow", {}).get("Status", "NEW"),
                        record_state=finding.get("RecordState", "ACTIVE"),
                    )
            token = page.get("NextToken")
            if not token:
                return

    def update(
        self, findings: Sequence[HubFinding], *, workflow_status: str | None, note: str, updated_by: str
    ) -> list[Unprocessed]:
        """Sets the note (and the workflow status, if given) of every finding, 100 per call; returns
        those Security Hub did not update, with its error code."""
        unprocessed: list[Unprocessed] = []
        for start in range(0, len(findings), FINDINGS_PER_UPDATE):
            batch = findings[start : start + FINDINGS_PER_UPDATE]
            by_key = {(f.product_arn, f.id): f.finding_id for f in batch}
            request: dict[str, Any] = {
                "FindingIdentifiers": [{"Id": f.id, "ProductArn": f.product_arn} for f in batch],
                "Note": {"Text": note, "UpdatedBy": updated_by},
            }
            if workflow_status is not None:
                request["Workflow"] = {"Status": workflow_status}
            try:
                response = self._client.batch_update_findings(**request)
            except (ClientError, BotoCoreError) as error:
                failed = _call_error("BatchUpdateFindings", error)
                unprocessed += [Unprocessed(f.finding_id, failed.code, str(failed)) for f in batch]
                continue
            for item in response.get("UnprocessedFindings", []):
                identifier = item["FindingIdentifier"]
                unprocessed.append(
                    Unprocessed(
                        finding_id=by_key.get((identifier["ProductArn"], identifier["Id"]), identifier["Id"]),
                        error_code=item["ErrorCode"],
                        error_message=item["ErrorMessage"],
                    )
                )
        return unprocessed
