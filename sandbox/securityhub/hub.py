"""The account's Security Hub, as far as the service uses it: the findings Device Defender Audit
sends when the integration is accepted, `GetFindings` and `BatchUpdateFindings`.

moto 5.2.5's Security Hub ignores `GetFindings`' filters and has no `BatchUpdateFindings`, so the
sandbox answers both (through `sandbox.securityhub.hooks`). Each rule below names its source:
- [API] botocore's `securityhub/2018-10-26/service-2.json` (documentation strings and shapes);
- [UG] Security Hub user guide, `finding-update-batchupdatefindings`, `finding-workflow-status`,
  `finding-update-batchimportfindings`, `securityhub_limits` (awsdocs/aws-security-hub-user-guide);
- [DD] IoT developer guide, "Integration with AWS Security Hub" (see `sandbox.securityhub.asff`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.errors import ServiceError
from sandbox.device_defender.state import AuditTask, Finding
from sandbox.securityhub import asff
from sandbox.securityhub.asff import IdReading

MAX_FILTER_ATTRIBUTES: Final = 10  # [API] GetFindingsRequest.Filters: "up to 10 finding attributes"
MAX_FILTER_VALUES: Final = 20  # [API] "for each attribute, you can provide up to 20 filter values"
MAX_UPDATE_FINDINGS: Final = 100  # [API]/[UG] BatchUpdateFindings: "up to 100 findings at a time"
MAX_NOTE_TEXT: Final = 512  # [API] Note.Text: maximum of 512
WORKFLOW_STATUSES: Final = frozenset({"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"})  # [API] WorkflowStatus
_NOT_SUBSCRIBED: Final = "Account is not subscribed to AWS Security Hub"


class UnsupportedFilter(NotImplementedError):
    """A filter the sandbox does not evaluate: an error, never ignored."""


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidInputException", message, 400)


@dataclass
class SecurityHub:
    """One account and Region's hub. `enabled` is Security Hub itself; `accepts_audit_findings` is the
    integration's "Accept findings" for Device Defender Audit [DD]."""

    account_id: str
    region: str
    partition: str = "aws"
    enabled: bool = False
    accepts_audit_findings: bool = False
    id_reading: IdReading = IdReading.DOCUMENTED
    findings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Callable[[], None]] = field(default_factory=list)
    _delivered: set[str] = field(default_factory=set)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    operations: frozenset[str] = frozenset({"GetFindings", "BatchUpdateFindings"})

    # --- the integration: Device Defender sends, Security Hub stores ------------------------------

    def deliver(self, audits: list[AuditTask], finding_of: Callable[[str], list[Finding]]) -> None:
        """Imports what Device Defender Audit sends for each completed audit not yet delivered, in
        the order the audits ended [DD: sent "after the audit task completes"; the sandbox sends at
        once, AWS "typically within one hour"]."""
        with self._lock:
            if not (self.enabled and self.accepts_audit_findings):
                return
            done = [
                a
                for a in audits
                if a.status in ("COMPLETED", "CANCELED") and a.task_id not in self._delivered
            ]
            for audit in sorted(done, key=lambda a: a.end or a.start):
                self._deliver_audit(audit, finding_of(audit.task_id))
                self._delivered.add(audit.task_id)

    def _deliver_audit(self, audit: AuditTask, findings: list[Finding]) -> None:
        product = asff.product_arn(self.partition, self.region)
        reported: set[str] = set()
        for finding in findings:
            sh_id = asff.audit_finding_id(self.account_id, finding, self.id_reading)
            reported.add(sh_id)
            document = asff.audit_finding(
                finding=finding,
                audit=audit,
                finding_id=sh_id,
                account_id=self.account_id,
                region=self.region,
                partition=self.partition,
            )
            self._import(product, document)
        # [DD] a resource an audit of the same check no longer reports is compliant: archived.
        for (arn, sh_id), existing in self.findings.items():
            fields = existing["ProductFields"]
            if (
                arn == product
                and fields.get("ReportType") == "AuditFinding"
                and fields.get("CheckName") in audit.results
                and sh_id not in reported
                and fields.get("TaskId") != audit.task_id
            ):
                existing["RecordState"] = "ARCHIVED"
        for check, result in audit.results.items():
            summary = asff.check_summary(
                audit=audit,
                check=check,
                non_compliant=result.non_compliant,
                suppressed=result.suppressed,
                total=result.total,
                status=result.status,
                severity=catalog.CHECKS[check].severity,
                account_id=self.account_id,
                region=self.region,
                partition=self.partition,
            )
            self._import(product, summary)

    def _import(self, product: str, document: dict[str, Any]) -> None:
        """BatchImportFindings' rule for an existing Id [UG]: the provider's fields are replaced;
        Note, UserDefinedFields, VerificationState and Workflow are only BatchUpdateFindings'.
        [UG finding-workflow-status] ARCHIVED -> ACTIVE resets NOTIFIED or RESOLVED to NEW."""
        key = (product, document["Id"])
        existing = self.findings.get(key)
        if existing is None:
            self.findings[key] = document
            return
        kept = {
            name: existing[name]
            for name in ("Note", "UserDefinedFields", "VerificationState", "Workflow", "CreatedAt")
            if name in existing
        }
        reactivated = existing.get("RecordState") == "ARCHIVED" and document.get("RecordState") == "ACTIVE"
        existing.clear()
        existing.update(document, **kept)
        if reactivated and existing["Workflow"]["Status"] in ("NOTIFIED", "RESOLVED"):
            existing["Workflow"] = {"Status": "NEW"}

    # --- the API ------------------------------------------------------------------------------------

    def handle(self, operation_name: str, params: Mapping[str, Any], _region: str | None) -> dict[str, Any]:
        for source in self.sources:
            source()
        with self._lock:
            if not self.enabled:
                raise ServiceError("InvalidAccessException", _NOT_SUBSCRIBED, 401)
            if operation_name == "GetFindings":
                return self._get_findings(params)
            return self._batch_update_findings(params)

    def _get_findings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        filters: Mapping[str, Any] = params.get("Filters") or {}
        if len(filters) > MAX_FILTER_ATTRIBUTES:
            raise _invalid(f"You can filter by up to {MAX_FILTER_ATTRIBUTES} finding attributes.")
        for name, values in filters.items():
            if len(values) > MAX_FILTER_VALUES:
                raise _invalid(
                    f"Filter {name} has {len(values)} values; at most {MAX_FILTER_VALUES} are allowed."
                )
        limit = int(params.get("MaxResults", 100))
        if not 1 <= limit <= 100:
            raise _invalid("MaxResults must be a number between 1 and 100")
        matching = [f for f in self.findings.values() if all(_matches(f, n, v) for n, v in filters.items())]
        start = int(params.get("NextToken") or 0)
        page = matching[start : start + limit]
        result: dict[str, Any] = {"Findings": copy.deepcopy(page)}
        if start + limit < len(matching):
            result["NextToken"] = str(start + limit)
        return result

    def _batch_update_findings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        identifiers = list(params["FindingIdentifiers"])
        if len(identifiers) > MAX_UPDATE_FINDINGS:
            raise _invalid(f"BatchUpdateFindings can update up to {MAX_UPDATE_FINDINGS} findings at a time.")
        note = params.get("Note")
        if note is not None and not 1 <= len(note["Text"]) <= MAX_NOTE_TEXT:
            raise _invalid(f"Note.Text must be 1 to {MAX_NOTE_TEXT} characters long.")
        status = (params.get("Workflow") or {}).get("Status")
        if status is not None and status not in WORKFLOW_STATUSES:
            raise _invalid(f"Workflow.Status {status!r} is not one of {sorted(WORKFLOW_STATUSES)}.")
        processed: list[dict[str, str]] = []
        unprocessed: list[dict[str, Any]] = []
        seen = [(i["ProductArn"], i["Id"]) for i in identifiers]
        for identifier, key in zip(identifiers, seen, strict=True):
            plain = {"Id": identifier["Id"], "ProductArn": identifier["ProductArn"]}
            finding = self.findings.get(key)
            if seen.count(key) > 1:
                unprocessed.append(
                    _unprocessed(
                        plain,
                        "DuplicatedFindingIdentifier",
                        "The request included the finding more than once.",
                    )
                )
            elif finding is None or finding["AwsAccountId"] != self.account_id:
                # A member account updates only its own account's findings [API].
                unprocessed.append(
                    _unprocessed(
                        plain, "FindingNotFound", "The finding identifier did not match an existing finding."
                    )
                )
            else:
                if note is not None:
                    finding["Note"] = {
                        "Text": note["Text"],
                        "UpdatedBy": note["UpdatedBy"],
                        "UpdatedAt": "sandbox",
                    }
                if status is not None:
                    finding["Workflow"] = {"Status": status}
                    finding["WorkflowState"] = (
                        "NEW" if status == "NEW" else finding.get("WorkflowState", "NEW")
                    )
                processed.append(plain)
        self.updates.append(copy.deepcopy(dict(params)))
        return {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}

    # --- for tests ----------------------------------------------------------------------------------

    def audit_finding_for(self, finding_id: str) -> dict[str, Any] | None:
        """The Security Hub finding whose `ProductFields.FindingId` is this Device Defender finding's."""
        for source in self.sources:
            source()
        with self._lock:
            return next(
                (
                    copy.deepcopy(f)
                    for f in self.findings.values()
                    if f["ProductFields"].get("FindingId") == finding_id
                ),
                None,
            )


def _unprocessed(identifier: dict[str, str], code: str, message: str) -> dict[str, Any]:
    return {"FindingIdentifier": identifier, "ErrorCode": code, "ErrorMessage": message}


def _matches(finding: Mapping[str, Any], name: str, values: list[Mapping[str, Any]]) -> bool:
    """EQUALS filters on one attribute are joined by OR [API StringFilter/MapFilter]; the sandbox
    evaluates EQUALS only, on top-level strings and on ProductFields."""
    for value in values:
        if value.get("Comparison") != "EQUALS":
            raise UnsupportedFilter(
                f"{name}: comparison {value.get('Comparison')!r} is not evaluated by the sandbox"
            )
    if name == "ProductFields":
        fields = finding.get("ProductFields", {})
        return any(fields.get(v["Key"]) == v["Value"] for v in values)
    if name in ("WorkflowStatus",):
        return any(finding.get("Workflow", {}).get("Status") == v["Value"] for v in values)
    if name not in (
        "Id",
        "ProductArn",
        "AwsAccountId",
        "GeneratorId",
        "RecordState",
        "Region",
        "ProductName",
    ):
        raise UnsupportedFilter(f"filter attribute {name} is not evaluated by the sandbox")
    return any(finding.get(name) == v["Value"] for v in values)
