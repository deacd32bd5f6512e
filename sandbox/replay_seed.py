"""Seeds the sandbox with the audit a replayed notification reports, so its mitigation tasks act.

A replayed notification names an audit task this sandbox never ran: without it, IoT rejects every
task that targets it ("Audit task ... does not exist"). For an audit-completion notification, this
records a completed audit under the notification's task id with the notification's check results,
and for each non-compliant resource it counts creates a resource with the defect (a device
certificate with its things, a CA certificate, an allow-everything policy, logging switched off)
and a finding on it. A per-finding message gets its finding (same finding id and audit task id) on
a new resource of its type: resource ids cannot be chosen in IoT, so the message's are not reused.
Findings follow botocore's AuditFinding shape (the emulator checks every response against it).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.seeding import seeded_finding
from sandbox.device_defender.state import AuditTask, CheckResult, Finding
from sandbox.fleet import Seeder

# More resources than this for one check are not created (a replay is not a load test).
MAX_FINDINGS_PER_CHECK: Final = 50
_AUDIT_TASK_ID: Final = re.compile(r"^[a-zA-Z0-9\-]{1,40}$")
_FINDING_ID: Final = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_FINDING_NAMESPACE: Final = uuid.UUID("6f0d5a52-7d1c-4a43-9d4e-2f1ac0b5e0a1")


@dataclass
class Seeding:
    """What the replay seeded, for its `sandbox` field."""

    audit_task_id: str | None = None
    findings: dict[str, int] = field(default_factory=dict)
    not_seeded: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def document(self) -> dict[str, Any]:
        return {
            "seededAuditTaskId": self.audit_task_id,
            "seededFindings": dict(self.findings),
            "notSeeded": dict(self.not_seeded),
            "note": self.note,
        }


def _message(event: Any) -> dict[str, Any] | None:
    try:
        message = json.loads(event["Records"][0]["Sns"]["Message"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None


class _Resources:
    """Creates one non-compliant resource of a check's resource type; returns its identifier."""

    def __init__(self, seeder: Seeder, prefix: str) -> None:
        self.seeder = seeder
        self.prefix = prefix
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}{kind}{self.count:03d}"

    def create(self, check: str, resource_type: str) -> dict[str, Any]:
        s = self.seeder
        if resource_type == "DEVICE_CERTIFICATE":
            label = self._name("Device")
            certificate = s.certificate(label)
            things = 2 if check == "DEVICE_CERTIFICATE_SHARED_CHECK" else 1
            for index in range(things):
                s.device(f"{label}-{index}", certificate=certificate)
            if check == "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK":
                s.emulator.revoke_device_certificate(certificate[0], region=s.region)
            return {"deviceCertificateId": certificate[0]}
        if resource_type == "CA_CERTIFICATE":
            authority = s.authority(
                self._name("CA"),
                valid_from=s.now - timedelta(days=30),
                valid_until=s.now + timedelta(days=3650),
            )
            return {"caCertificateId": authority.certificate_id}
        if resource_type == "IOT_POLICY":
            name = s.allow_everything(self._name("Policy"))
            return {"policyVersionIdentifier": {"policyName": name, "policyVersionId": "1"}}
        if resource_type == "ACCOUNT_SETTINGS":
            s.logging("DISABLED")
            return {"account": s.account_id}
        if resource_type == "CLIENT_ID":
            return {"clientId": self._name("client-")}
        if resource_type == "COGNITO_IDENTITY_POOL":
            return {
                "cognitoIdentityPoolId": f"{s.region}:{uuid.uuid5(_FINDING_NAMESPACE, self._name('pool'))}"
            }
        if resource_type == "ROLE_ALIAS":
            return {
                "roleAliasArn": f"arn:aws:iot:{s.region}:{s.account_id}:rolealias/{self._name('RoleAlias')}"
            }
        raise ValueError(f"the replay cannot create {resource_type} resources")


def _finding(
    audit: AuditTask, check: str, finding_id: str, identifier: dict[str, Any], reason_code: str, now: datetime
) -> Finding:
    return seeded_finding(
        audit,
        check,
        finding_id,
        identifier,
        reason_code=reason_code,
        reason=f"Seeded by the replay for {check}.",
        when=now,
    )


def _start_time(value: Any, now: datetime) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**14:
        return datetime.fromtimestamp(value / 1000, UTC)
    return now


def seed_replayed_message(sandbox: Any, event: Any) -> Seeding:
    """Seeds what `event`'s message reports; never raises for a message it cannot seed (the
    handler decides about the message; the seeding only says why it did nothing)."""
    message = _message(event)
    if sandbox.emulator is None:
        return Seeding(note="nothing seeded: the Device Defender emulator is not installed")
    if message is None:
        return Seeding(note="nothing seeded: the SNS message is not a JSON object")
    task_id = message.get("taskId")
    if not isinstance(task_id, str) or not _AUDIT_TASK_ID.fullmatch(task_id):
        return Seeding(note="nothing seeded: the message names no valid audit task id")
    if message.get("accountId", sandbox.account_id) != sandbox.account_id:
        return Seeding(note=f"nothing seeded: the audit is of another account than {sandbox.account_id}")
    seeder = Seeder("replay", sandbox.emulator, sandbox.client("iot"))
    now = seeder.now
    audit = AuditTask(
        task_id=task_id,
        task_type=str(message.get("taskType") or "ON_DEMAND_AUDIT_TASK"),
        start=_start_time(message.get("taskStartTime"), now),
        due=now,
        checks=[],
        scheduled_audit_name=message.get("scheduledAuditName"),
        status=str(message.get("taskStatus") or "COMPLETED"),
        end=now,
    )
    resources = _Resources(seeder, "Replay")
    if "findingId" in message:
        return _seed_finding(sandbox, message, audit, resources, now)
    details = message.get("auditDetails")
    if not isinstance(details, list):
        return Seeding(note="nothing seeded: the message is neither an audit notification nor a finding")
    if audit.status not in {"COMPLETED", "FAILED", "CANCELED"}:
        return Seeding(note=f"nothing seeded: audit task status {audit.status!r} is not a final one")
    seeding = Seeding(audit_task_id=task_id)
    findings: list[Finding] = []
    for detail in details:
        if not isinstance(detail, dict):
            continue
        check = detail.get("checkName")
        if not isinstance(check, str) or check not in catalog.CHECKS or check in audit.results:
            seeding.not_seeded[str(check)] = "not an API check name the emulator knows, or listed twice"
            continue
        status = str(detail.get("checkRunStatus"))
        wanted = detail.get("nonCompliantResourcesCount")
        wanted = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted >= 0 else 0
        total = detail.get("totalResourcesCount")
        result = CheckResult(status, total=total if isinstance(total, int) and total >= 0 else 0)
        audit.checks.append(check)
        audit.results[check] = result
        if status != "COMPLETED_NON_COMPLIANT" or wanted == 0:
            continue
        why = _why_not(check, wanted)
        if why:
            seeding.not_seeded[check] = why
            continue
        spec = catalog.CHECKS[check]
        created = [resources.create(check, spec.resource_type) for _ in range(wanted)]
        for index, identifier in enumerate(created):
            finding_id = str(uuid.uuid5(_FINDING_NAMESPACE, f"{task_id}/{check}/{index}"))
            findings.append(_finding(audit, check, finding_id, identifier, spec.reason_codes[0], now))
        result.non_compliant = wanted
        seeding.findings[check] = wanted
    sandbox.emulator.record_audit(audit, findings, region=sandbox.region)
    seeding.note = (
        f"the emulator was seeded with audit {task_id} ({audit.status}, {len(audit.checks)} checks) "
        f"and {len(findings)} findings on new resources, as the notification reports"
    )
    return seeding


def _why_not(check: str, wanted: int) -> str:
    resource_type = catalog.CHECKS[check].resource_type
    if resource_type not in _CREATABLE:
        return f"the sandbox cannot create {resource_type} resources"
    if resource_type == "ACCOUNT_SETTINGS" and wanted != 1:
        return f"{wanted} non-compliant resources, but an account has one ACCOUNT_SETTINGS resource"
    if wanted > MAX_FINDINGS_PER_CHECK:
        return (
            f"{wanted} non-compliant resources: the replay seeds at most {MAX_FINDINGS_PER_CHECK} per check"
        )
    return ""


_CREATABLE: Final = frozenset(
    {
        "DEVICE_CERTIFICATE",
        "CA_CERTIFICATE",
        "IOT_POLICY",
        "ACCOUNT_SETTINGS",
        "CLIENT_ID",
        "COGNITO_IDENTITY_POOL",
        "ROLE_ALIAS",
    }
)


def _seed_finding(
    sandbox: Any, message: dict[str, Any], audit: AuditTask, resources: _Resources, now: datetime
) -> Seeding:
    finding_id, check = message.get("findingId"), message.get("checkName")
    if not isinstance(finding_id, str) or not _FINDING_ID.fullmatch(finding_id):
        return Seeding(note="nothing seeded: the finding id is not a valid one")
    if not isinstance(check, str) or check not in catalog.CHECKS:
        return Seeding(note="nothing seeded: the finding's check is not an API check name the emulator knows")
    spec = catalog.CHECKS[check]
    reason_code = message.get("reasonForNonComplianceCode")
    if reason_code not in spec.reason_codes:
        return Seeding(note=f"nothing seeded: {reason_code!r} is not a reason code {check} reports")
    why = _why_not(check, 1)
    if why:
        return Seeding(not_seeded={check: why}, note=f"nothing seeded: {why}")
    identifier = resources.create(check, spec.resource_type)
    audit.status = "COMPLETED"
    audit.checks.append(check)
    audit.results[check] = CheckResult("COMPLETED_NON_COMPLIANT", total=1, non_compliant=1)
    sandbox.emulator.record_audit(
        audit, [_finding(audit, check, finding_id, identifier, str(reason_code), now)], region=sandbox.region
    )
    return Seeding(
        audit_task_id=audit.task_id,
        findings={check: 1},
        note=(
            f"the emulator was seeded with audit {audit.task_id} and finding {finding_id} on a new "
            f"{spec.resource_type} resource (IoT chooses resource ids, so the message's are not reused)"
        ),
    )
