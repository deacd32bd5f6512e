"""The emulator's own records (what Device Defender keeps and moto does not), one set per Region."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Connection:
    """One MQTT connection as Device Defender's behaviour checks see it."""

    client_id: str
    certificate_id: str
    thing_name: str | None
    connect_time: datetime
    disconnect_time: datetime | None = None


@dataclass
class CheckConfig:
    enabled: bool = False
    configuration: dict[str, str] = field(default_factory=dict)


@dataclass
class AccountAuditConfig:
    configured: bool = False
    role_arn: str | None = None
    notification_targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, CheckConfig] = field(default_factory=dict)


@dataclass
class CheckResult:
    status: str
    total: int = 0
    non_compliant: int = 0
    suppressed: int = 0
    error_code: str | None = None
    message: str | None = None


@dataclass
class Finding:
    finding_id: str
    task_id: str
    check_name: str
    task_start_time: datetime
    finding_time: datetime
    severity: str
    resource_type: str
    resource_identifier: dict[str, Any]
    additional_info: dict[str, str]
    related_resources: list[dict[str, Any]]
    reason: str
    reason_code: str
    is_suppressed: bool

    def non_compliant_resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": self.resource_type,
            "resourceIdentifier": self.resource_identifier,
        }
        if self.additional_info:
            resource["additionalInfo"] = self.additional_info
        return resource

    def to_api(self, related_limit: int | None = None) -> dict[str, Any]:
        related = self.related_resources if related_limit is None else self.related_resources[:related_limit]
        return {
            "findingId": self.finding_id,
            "taskId": self.task_id,
            "checkName": self.check_name,
            "taskStartTime": self.task_start_time,
            "findingTime": self.finding_time,
            "severity": self.severity,
            "nonCompliantResource": self.non_compliant_resource(),
            "relatedResources": related,
            "reasonForNonCompliance": self.reason,
            "reasonForNonComplianceCode": self.reason_code,
            "isSuppressed": self.is_suppressed,
        }


@dataclass
class AuditTask:
    task_id: str
    task_type: str
    start: datetime
    due: datetime
    checks: list[str]
    scheduled_audit_name: str | None = None
    previous_run: datetime | None = None
    status: str = "IN_PROGRESS"
    end: datetime | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)


@dataclass
class ScheduledAudit:
    name: str
    arn: str
    frequency: str
    day_of_month: str | None
    day_of_week: str | None
    target_checks: list[str]
    tags: list[dict[str, str]]
    last_run: datetime | None = None


@dataclass
class MitigationActionDef:
    name: str
    action_id: str
    arn: str
    role_arn: str
    params: dict[str, Any]
    action_type: str
    created: datetime
    modified: datetime
    tags: list[dict[str, str]] = field(default_factory=list)

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.action_id,
            "roleArn": self.role_arn,
            "actionParams": self.params,
        }


@dataclass
class Execution:
    task_id: str
    finding_id: str
    action_name: str
    action_id: str
    status: str = "PENDING"
    start: datetime | None = None
    end: datetime | None = None
    error_code: str | None = None
    message: str | None = None

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "taskId": self.task_id,
            "findingId": self.finding_id,
            "actionName": self.action_name,
            "actionId": self.action_id,
            "status": self.status,
        }
        optional = {
            "startTime": self.start,
            "endTime": self.end,
            "errorCode": self.error_code,
            "message": self.message,
        }
        item.update({k: v for k, v in optional.items() if v is not None})
        return item


@dataclass
class FindingWork:
    """One targeted finding of a mitigation task: its actions run in order when it falls due."""

    finding: Finding
    actions: list[MitigationActionDef]
    due: datetime
    done: bool = False


@dataclass
class CheckStatistics:
    total: int = 0
    failed: int = 0
    succeeded: int = 0
    skipped: int = 0
    canceled: int = 0

    def to_api(self) -> dict[str, int]:
        return {
            "totalFindingsCount": self.total,
            "failedFindingsCount": self.failed,
            "succeededFindingsCount": self.succeeded,
            "skippedFindingsCount": self.skipped,
            "canceledFindingsCount": self.canceled,
        }


@dataclass
class MitigationTask:
    task_id: str
    client_request_token: str
    target: dict[str, Any]
    mapping: dict[str, list[str]]
    actions: list[MitigationActionDef]
    start: datetime
    due: datetime
    statistics: dict[str, CheckStatistics]
    work: list[FindingWork]
    executions: dict[str, list[Execution]]
    targeted_finding_ids: set[str]
    status: str = "IN_PROGRESS"
    end: datetime | None = None
    any_failed: bool = False


def resource_key(resource_identifier: dict[str, Any]) -> str:
    """A canonical text key for a ResourceIdentifier (suppressions and filters compare these)."""
    return json.dumps(resource_identifier, sort_keys=True, separators=(",", ":"))


@dataclass
class Suppression:
    check_name: str
    resource_identifier: dict[str, Any]
    expiration: datetime | None
    indefinitely: bool
    description: str | None
    client_request_token: str

    def active(self, now: datetime) -> bool:
        return self.indefinitely or self.expiration is None or self.expiration > now

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "checkName": self.check_name,
            "resourceIdentifier": self.resource_identifier,
            "suppressIndefinitely": self.indefinitely,
        }
        if self.expiration is not None:
            item["expirationDate"] = self.expiration
        if self.description is not None:
            item["description"] = self.description
        return item


@dataclass
class RegionState:
    audit_config: AccountAuditConfig = field(default_factory=AccountAuditConfig)
    v2_logging: dict[str, Any] | None = None
    scheduled_audits: dict[str, ScheduledAudit] = field(default_factory=dict)
    audits: dict[str, AuditTask] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    actions: dict[str, MitigationActionDef] = field(default_factory=dict)
    mitigation_tasks: dict[str, MitigationTask] = field(default_factory=dict)
    suppressions: dict[tuple[str, str], Suppression] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    revoked_device_certificates: set[str] = field(default_factory=set)
    revoked_ca_certificates: set[str] = field(default_factory=set)
