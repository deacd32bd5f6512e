"""Messages that reach AuditEventsTopic, told apart by shape.

Audit-completion summaries follow the documented payload (reference §5.1), per-finding messages the
observed PUBLISH_FINDING_TO_SNS delivery (§5.2). Both tolerate extra keys; check names and reason
codes are open strings, identifiers carry the IoT API's patterns and lengths.
"""

import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from audit_remediator.checks import api_check_name
from audit_remediator.models.identifiers import (
    AccountId,
    AuditTaskId,
    CertificateId,
    CheckName,
    FindingId,
    ReasonCode,
)

Count = Annotated[int, Field(ge=0, le=10**12)]
EpochMillis = Annotated[int, Field(ge=0, le=10**14)]
# Fields no decision depends on: bounded by the message size only, so they never veto a message.
Text = Annotated[str, Field(max_length=262144)]
# 17 checks exist today; the bound leaves room for new ones and keeps hostile lists out.
MAX_AUDIT_DETAILS = 100

CheckRunStatus = Literal[
    "COMPLETED_COMPLIANT",
    "COMPLETED_NON_COMPLIANT",
    "FAILED",
    "CANCELED",
    "IN_PROGRESS",
    "WAITING_FOR_DATA_COLLECTION",
]


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _shown(check_name: str) -> str:
    """A check name fit to quote in a reason: names from the message are only echoed when plain."""
    return check_name if _PLAIN_NAME.fullmatch(check_name) else "with an unusual name"


class _Message(BaseModel):
    # strict: counts sent as strings or floats are a broken producer, not something to coerce.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class AuditCheckDetail(_Message):
    check_name: CheckName = Field(alias="checkName")
    check_run_status: CheckRunStatus = Field(alias="checkRunStatus")
    non_compliant_resources_count: Count = Field(alias="nonCompliantResourcesCount")
    total_resources_count: Count = Field(alias="totalResourcesCount")
    suppressed_non_compliant_resources_count: Count | None = Field(
        default=None, alias="suppressedNonCompliantResourcesCount"
    )
    error_code: Text | None = Field(default=None, alias="errorCode")
    message: Text | None = None

    @model_validator(mode="after")
    def _no_more_non_compliant_than_examined(self) -> "AuditCheckDetail":
        # Non-compliant resources are among those the check examined (DescribeAuditTask's
        # AuditCheckDetails), so more of them is a broken or forged message; caps rely on the count.
        if self.non_compliant_resources_count > self.total_resources_count:
            raise ValueError(
                f"the check {_shown(self.check_name)} reports {self.non_compliant_resources_count} "
                f"non-compliant resources but examined only {self.total_resources_count}"
            )
        return self


class AuditCompletionNotification(_Message):
    kind: Literal["audit"] = "audit"
    account_id: AccountId = Field(alias="accountId")
    task_id: AuditTaskId = Field(alias="taskId")
    task_status: Literal["COMPLETED", "FAILED", "CANCELED"] = Field(alias="taskStatus")
    task_type: Literal["ON_DEMAND_AUDIT_TASK", "SCHEDULED_AUDIT_TASK"] = Field(alias="taskType")
    scheduled_audit_name: Text | None = Field(default=None, alias="scheduledAuditName")
    failed_checks_count: Count = Field(alias="failedChecksCount")
    canceled_checks_count: Count = Field(alias="canceledChecksCount")
    non_compliant_checks_count: Count = Field(alias="nonCompliantChecksCount")
    compliant_checks_count: Count = Field(alias="compliantChecksCount")
    total_checks_count: Count = Field(alias="totalChecksCount")
    task_start_time: EpochMillis = Field(alias="taskStartTime")
    audit_details: list[AuditCheckDetail] = Field(alias="auditDetails", max_length=MAX_AUDIT_DETAILS)

    @field_validator("audit_details")
    @classmethod
    def _one_entry_per_check(cls, details: list[AuditCheckDetail]) -> list[AuditCheckDetail]:
        names = Counter(api_check_name(detail.check_name) for detail in details)
        repeated = [(name, times) for name, times in names.items() if times > 1]
        if repeated:
            raise ValueError(
                "; ".join(
                    f"the check {_shown(name)} is listed {'twice' if times == 2 else f'{times} times'}"
                    for name, times in repeated
                )
            )
        return details


class PolicyVersionIdentifier(_Message):
    policy_name: Annotated[str, Field(min_length=1, max_length=128)] = Field(alias="policyName")
    policy_version_id: Annotated[str, Field(pattern=r"^[0-9]+$", max_length=16)] | None = Field(
        default=None, alias="policyVersionId"
    )


class ResourceIdentifier(_Message):
    """The members of the API's ResourceIdentifier; at most the relevant ones are set."""

    device_certificate_id: CertificateId | None = Field(default=None, alias="deviceCertificateId")
    ca_certificate_id: CertificateId | None = Field(default=None, alias="caCertificateId")
    cognito_identity_pool_id: Annotated[str, Field(max_length=256)] | None = Field(
        default=None, alias="cognitoIdentityPoolId"
    )
    client_id: Annotated[str, Field(max_length=256)] | None = Field(default=None, alias="clientId")
    policy_version_identifier: PolicyVersionIdentifier | None = Field(
        default=None, alias="policyVersionIdentifier"
    )
    account: AccountId | None = None
    iam_role_arn: Annotated[str, Field(max_length=2048)] | None = Field(default=None, alias="iamRoleArn")
    role_alias_arn: Annotated[str, Field(max_length=2048)] | None = Field(default=None, alias="roleAliasArn")
    device_certificate_arn: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, alias="deviceCertificateArn"
    )


class NonCompliantResource(_Message):
    resource_type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Z_]+$")] = Field(
        alias="resourceType"
    )
    resource_identifier: ResourceIdentifier = Field(alias="resourceIdentifier")
    additional_info: dict[str, Any] | None = Field(default=None, alias="additionalInfo")


# Keys a finding might be nested under (reference §5.2: "possibly nested under a wrapper key").
FINDING_WRAPPER_KEYS = ("finding", "auditFinding")


class FindingNotification(_Message):
    kind: Literal["finding"] = "finding"
    finding_id: FindingId = Field(alias="findingId")
    task_id: AuditTaskId = Field(alias="taskId")
    check_name: CheckName = Field(alias="checkName")
    reason_code: ReasonCode = Field(alias="reasonForNonComplianceCode")
    non_compliant_resource: NonCompliantResource | None = Field(default=None, alias="nonCompliantResource")
    severity: Text | None = None
    finding_time: EpochMillis | None = Field(default=None, alias="findingTime")
    task_start_time: EpochMillis | None = Field(default=None, alias="taskStartTime")
    reason: Text | None = Field(default=None, alias="reasonForNonCompliance")
    is_suppressed: bool | None = Field(default=None, alias="isSuppressed")

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        if isinstance(data, dict) and "findingId" not in data:
            for key in FINDING_WRAPPER_KEYS:
                inner = data.get(key)
                if isinstance(inner, dict):
                    return inner
        return data


class DetectViolation(_Message):
    """A Device Defender Detect alarm: recognised so it can be rejected by name, never acted on."""

    kind: Literal["detect"] = "detect"
    violation_id: Annotated[str, Field(max_length=128)] | None = Field(default=None, alias="violationId")


def message_kind(value: Any) -> str | None:
    """Tell the messages apart by shape (reference §5.2, "defensive design").

    A finding may carry task metadata (even a `taskType`), so the finding's own keys are looked for
    before the audit summary's.
    """
    if isinstance(value, BaseModel):
        return str(getattr(value, "kind", None))
    if not isinstance(value, dict):
        return None
    if "violationId" in value or "violationEventType" in value:
        return "detect"
    if "findingId" in value or "nonCompliantResource" in value:
        return "finding"
    if any(isinstance(value.get(key), dict) and "findingId" in value[key] for key in FINDING_WRAPPER_KEYS):
        return "finding"
    if "auditDetails" in value or "taskType" in value:
        return "audit"
    return None


InboundMessage = Annotated[
    Annotated[AuditCompletionNotification, Tag("audit")]
    | Annotated[FindingNotification, Tag("finding")]
    | Annotated[DetectViolation, Tag("detect")],
    Discriminator(
        message_kind,
        custom_error_type="unrecognised_message",
        custom_error_message="not an audit-completion, per-finding or Detect message",
    ),
]
