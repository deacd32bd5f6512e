"""How Device Defender Audit's findings look in Security Hub (ASFF), per the IoT developer guide's
"Integration with AWS Security Hub" page (reference: Device Defender and Security Hub).

Documented there, and played as documented:
- product ARN `arn:<partition>:securityhub:<region>::product/aws/iot-device-defender-audit`;
- two kinds of finding, told apart by `ProductFields.ReportType`: `AuditFinding` (one per
  non-compliant resource, check and reason) and `CheckSummary` (one per check of an audit);
- an audit finding is identified "by checked resource identifier and audit check type": a later
  audit reporting the same resource and check updates it (its `FindingId` and `TaskId` become the
  new audit's), an audit of that check that no longer reports it archives it;
- `Types`: `Unusual Behaviors` for the shared-certificate and conflicting-client-id checks,
  `Software and Configuration Check/Vulnerabilities` for the others.

Unconfirmed, so played two ways where it matters (`IdReading`): the `Id` of an audit finding. The
page's one example is `<account>/IOT_POLICY/<policy>/<version>/<check>/<reason code>`, whose account
differs from the finding's `AwsAccountId`, and no other resource type is shown. The `Resources`
entry and the `ProductFields` names of resource types other than IOT_POLICY are unconfirmed too
(nothing in the service depends on them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sandbox.device_defender.state import AuditTask, Finding

PRODUCT_NAME: Final = "IoT Device Defender - Audit"
_BEHAVIOUR_CHECKS: Final = frozenset({"DEVICE_CERTIFICATE_SHARED_CHECK", "CONFLICTING_CLIENT_IDS_CHECK"})
_SEVERITY_NORMALIZED: Final = {"CRITICAL": 90, "HIGH": 70, "MEDIUM": 40, "LOW": 1}


class IdReading(StrEnum):
    DOCUMENTED = "documented"  # the example's path: account/resource type/resource/check/reason
    OPAQUE = "opaque"  # an identifier nothing can compute from the Device Defender finding


def product_arn(partition: str, region: str) -> str:
    return f"arn:{partition}:securityhub:{region}::product/aws/iot-device-defender-audit"


def _resource_path(resource_identifier: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for value in resource_identifier.values():
        parts.extend(str(v) for v in value.values()) if isinstance(value, Mapping) else parts.append(
            str(value)
        )
    return "/".join(parts)


def audit_finding_key(finding: Finding) -> tuple[str, str, str, str]:
    """What identifies a Security Hub audit finding: the resource, the check and the reason."""
    return (
        finding.resource_type,
        _resource_path(finding.resource_identifier),
        finding.check_name,
        finding.reason_code,
    )


def audit_finding_id(account_id: str, finding: Finding, reading: IdReading) -> str:
    resource_type, path, check, reason = audit_finding_key(finding)
    documented = f"{account_id}/{resource_type}/{path}/{check}/{reason}"
    if reading is IdReading.DOCUMENTED:
        return documented
    return hashlib.sha256(documented.encode()).hexdigest()[:32]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _types(check: str) -> list[str]:
    return [
        "Unusual Behaviors"
        if check in _BEHAVIOUR_CHECKS
        else "Software and Configuration Check/Vulnerabilities"
    ]


def _identifier_fields(resource_identifier: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in resource_identifier.items():
        members = value if isinstance(value, Mapping) else {key: value}
        fields.update({name[:1].upper() + name[1:]: str(v) for name, v in members.items()})
    return fields


def audit_finding(
    *, finding: Finding, audit: AuditTask, finding_id: str, account_id: str, region: str, partition: str
) -> dict[str, Any]:
    """The ASFF document Device Defender sends for one audit finding (the page's first example)."""
    product = product_arn(partition, region)
    when = _iso(audit.end or finding.finding_time)
    resource_type, path, check, reason = audit_finding_key(finding)
    product_fields = {
        "CheckName": check,
        "TaskId": finding.task_id,
        "TaskType": audit.task_type,
        "IsSuppressed": "true" if finding.is_suppressed else "false",
        "ReasonForNonComplianceCode": reason,
        "ResourceType": resource_type,
        "FindingId": finding.finding_id,
        "ReportType": "AuditFinding",
        "TaskStartTime": str(int(finding.task_start_time.timestamp() * 1000)),
        **_identifier_fields(finding.resource_identifier),
        "aws/securityhub/FindingId": f"{product}/{finding_id}",
        "aws/securityhub/ProductName": PRODUCT_NAME,
        "aws/securityhub/CompanyName": "AWS",
    }
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": product,
        "ProductName": PRODUCT_NAME,
        "CompanyName": "AWS",
        "Region": region,
        "GeneratorId": finding.finding_id,
        "AwsAccountId": account_id,
        "Types": _types(check),
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": finding.severity, "Normalized": _SEVERITY_NORMALIZED[finding.severity]},
        "Title": f"{check}: {reason}",
        "Description": (
            f"{resource_type} {path} is reported as non-compliant for {check} by Audit task {finding.task_id}. "
            f"The non-compliant reason is {finding.reason.rstrip('.')}."
        ),
        "ProductFields": product_fields,
        "Resources": [
            {
                "Type": "AwsIotPolicy" if resource_type == "IOT_POLICY" else "Other",
                "Id": path,
                "Partition": partition,
                "Region": region,
            }
        ],
        "WorkflowState": "NEW",
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
        "FindingProviderFields": {"Severity": {"Label": finding.severity}, "Types": _types(check)},
    }


def check_summary(
    *,
    audit: AuditTask,
    check: str,
    non_compliant: int,
    suppressed: int,
    total: int,
    status: str,
    severity: str,
    account_id: str,
    region: str,
    partition: str,
) -> dict[str, Any]:
    """The check summary of one check of one audit (the page's second example; the Id of an
    on-demand audit's summary is unconfirmed: the example is a scheduled audit's)."""
    product = product_arn(partition, region)
    scope = audit.scheduled_audit_name or audit.task_id
    finding_id = f"{account_id}/{audit.task_type}/{scope}/{check}"
    when = _iso(audit.end or audit.start)
    fields = {
        "TaskId": audit.task_id,
        "TaskType": audit.task_type,
        "CheckName": check,
        "ReportType": "CheckSummary",
        "CheckRunStatus": status,
        "NonComopliantResourcesCount": str(non_compliant),  # sic: the documented key's spelling
        "SuppressedNonCompliantResourcesCount": str(suppressed),
        "TotalResourcesCount": str(total),
        "aws/securityhub/FindingId": f"{product}/{finding_id}",
        "aws/securityhub/ProductName": PRODUCT_NAME,
        "aws/securityhub/CompanyName": "AWS",
    }
    if audit.scheduled_audit_name:
        fields["ScheduledAuditName"] = audit.scheduled_audit_name
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": product,
        "ProductName": PRODUCT_NAME,
        "CompanyName": "AWS",
        "Region": region,
        "GeneratorId": audit.task_id,
        "AwsAccountId": account_id,
        "Types": _types(check),
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": severity, "Normalized": _SEVERITY_NORMALIZED[severity]},
        "Title": f"{check} Summary: Completed with {non_compliant} non-compliant resources",
        "Description": f"Task {audit.task_id} completes. {non_compliant} non-compliant resources are found for {check}.",
        "ProductFields": fields,
        "Resources": [{"Type": "AwsIotAuditTask", "Id": audit.task_id, "Region": region}],
        "WorkflowState": "NEW",
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE" if non_compliant or status == "FAILED" else "ARCHIVED",
        "FindingProviderFields": {"Severity": {"Label": severity}, "Types": _types(check)},
    }
