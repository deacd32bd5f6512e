"""Audit check evaluation over moto's IoT state plus the emulator's own records.

Each evaluator sees the account as the audit sees it when the check runs and returns the number of
resources it examined and the non-compliant ones. Checks without an evaluator complete compliant
with zero resources, as the service reports for checks with nothing to examine.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography import x509
from moto.iot.models import FakeCertificate, IoTBackend

from sandbox.device_defender.state import Connection, RegionState

EXAMINED_CERTIFICATE_STATES: Final = frozenset({"ACTIVE", "PENDING_TRANSFER"})
DATA_PLANE_ACTIONS: Final = ("iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive")
# Behaviour checks look at connections from 31 days before an on-demand audit up to 2 hours
# before the check runs (reference §1.3).
LOOKBACK: Final = timedelta(days=31)
DATA_DELAY: Final = timedelta(hours=2)
_BROAD_RESOURCE_TAIL: Final = re.compile(r"\*|[A-Za-z]+/[*#+]")


@dataclass(frozen=True)
class RawFinding:
    resource_type: str
    resource_identifier: dict[str, Any]
    reason_code: str
    reason: str
    additional_info: dict[str, str] = field(default_factory=dict)
    related_resources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckOutcome:
    total: int
    findings: list[RawFinding]


@dataclass(frozen=True)
class AuditContext:
    account_id: str
    iot: IoTBackend
    state: RegionState
    now: datetime
    task_type: str
    previous_run: datetime | None

    def threshold_days(self, check_name: str, default: int = 30) -> int:
        config = self.state.audit_config.checks.get(check_name)
        value = config.configuration.get("CERT_EXPIRATION_THRESHOLD_IN_DAYS") if config else None
        return int(value) if value is not None else default

    def connections_in_window(self) -> list[Connection]:
        upper = self.now - DATA_DELAY
        if self.task_type == "SCHEDULED_AUDIT_TASK" and self.previous_run is not None:
            lower = self.previous_run - DATA_DELAY
        else:
            lower = self.now - LOOKBACK
        return [
            c
            for c in self.state.connections
            if c.connect_time <= upper and (c.disconnect_time is None or c.disconnect_time >= lower)
        ]


def _ms(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


@functools.lru_cache(maxsize=1024)
def certificate_not_after(pem: str) -> datetime | None:
    """The certificate's real expiry (moto's own validity fields are placeholders)."""
    try:
        return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    except ValueError:
        return None


def _examined(certificates: Iterable[FakeCertificate]) -> list[FakeCertificate]:
    return [c for c in certificates if c.status in EXAMINED_CERTIFICATE_STATES]


def device_certificate_shared(ctx: AuditContext) -> CheckOutcome:
    certificates = _examined(ctx.iot.certificates.values())
    by_certificate: dict[str, list[Connection]] = {}
    for connection in ctx.connections_in_window():
        by_certificate.setdefault(connection.certificate_id, []).append(connection)
    findings = []
    for certificate in certificates:
        connections = by_certificate.get(certificate.certificate_id, [])
        if len({c.client_id for c in connections}) < 2:
            continue
        related = []
        for connection in connections:
            info = {"CONNECTION_TIME": _ms(connection.connect_time)}
            if connection.disconnect_time is not None:
                info["DISCONNECTION_TIME"] = _ms(connection.disconnect_time)
            related.append(
                {
                    "resourceType": "CLIENT_ID",
                    "resourceIdentifier": {"clientId": connection.client_id},
                    "additionalInfo": info,
                }
            )
        findings.append(
            RawFinding(
                "DEVICE_CERTIFICATE",
                {"deviceCertificateId": certificate.certificate_id},
                "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",
                "Certificate shared by one or more devices.",
                related_resources=related,
            )
        )
    return CheckOutcome(len(certificates), findings)


def conflicting_client_ids(ctx: AuditContext) -> CheckOutcome:
    by_client: dict[str, list[Connection]] = {}
    for connection in ctx.connections_in_window():
        by_client.setdefault(connection.client_id, []).append(connection)
    findings = []
    for client_id, connections in by_client.items():
        devices = {c.thing_name or c.certificate_id for c in connections}
        if len(devices) < 2:
            continue
        related = [
            {
                "resourceType": "DEVICE_CERTIFICATE",
                "resourceIdentifier": {"deviceCertificateId": certificate_id},
            }
            for certificate_id in sorted({c.certificate_id for c in connections})
        ]
        findings.append(
            RawFinding(
                "CLIENT_ID",
                {"clientId": client_id},
                "DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS",
                "Multiple devices connected with the same client ID.",
                related_resources=related,
            )
        )
    return CheckOutcome(len(by_client), findings)


def logging_disabled(ctx: AuditContext) -> CheckOutcome:
    options = ctx.state.v2_logging
    disabled = (
        options is None
        or options.get("disableAllLogs") is True
        or options.get("defaultLogLevel") == "DISABLED"
    )
    findings = []
    if disabled:
        findings.append(
            RawFinding(
                "ACCOUNT_SETTINGS",
                {"account": ctx.account_id},
                "LOGGING_DISABLED",
                "Logging to CloudWatch Logs is disabled for the account.",
            )
        )
    return CheckOutcome(1, findings)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_broad_resource(resource: Any) -> bool:
    if not isinstance(resource, str):
        return False
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and _BROAD_RESOURCE_TAIL.fullmatch(parts[5]) is not None


def _granted_data_plane(statement: dict[str, Any]) -> set[str]:
    if "NotAction" in statement:
        excluded = [str(a).lower() for a in _as_list(statement["NotAction"])]
        return {a for a in DATA_PLANE_ACTIONS if not any(fnmatch.fnmatchcase(a.lower(), x) for x in excluded)}
    patterns = [str(a).lower() for a in _as_list(statement.get("Action"))]
    return {a for a in DATA_PLANE_ACTIONS if any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns)}


def broad_data_plane_actions(document: Any) -> list[str]:
    """Data-plane actions an IoT policy document allows on broad resource wildcards."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    broad: set[str] = set()
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        wide = "NotResource" in statement or any(
            _is_broad_resource(r) for r in _as_list(statement.get("Resource"))
        )
        if wide:
            broad |= _granted_data_plane(statement)
    return [a for a in DATA_PLANE_ACTIONS if a in broad]


def iot_policy_overly_permissive(ctx: AuditContext) -> CheckOutcome:
    findings = []
    for policy in ctx.iot.policies.values():
        default = next((v for v in policy.versions if v.is_default), None)
        document = default.document if default is not None else policy.document
        actions = broad_data_plane_actions(document)
        if not actions:
            continue
        findings.append(
            RawFinding(
                "IOT_POLICY",
                {
                    "policyVersionIdentifier": {
                        "policyName": policy.name,
                        "policyVersionId": policy.default_version_id,
                    }
                },
                "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
                f"Policy allows broad access to IoT data plane actions: [{', '.join(actions)}].",
            )
        )
    return CheckOutcome(len(ctx.iot.policies), findings)


def _revoked(
    certificates: Iterable[FakeCertificate],
    revoked: set[str],
    resource_type: str,
    id_member: str,
    reason: str,
) -> CheckOutcome:
    examined = _examined(certificates)
    findings = [
        RawFinding(resource_type, {id_member: c.certificate_id}, "CERTIFICATE_REVOKED_BY_ISSUER", reason)
        for c in examined
        if c.certificate_id in revoked
    ]
    return CheckOutcome(len(examined), findings)


def revoked_device_certificate(ctx: AuditContext) -> CheckOutcome:
    return _revoked(
        ctx.iot.certificates.values(),
        ctx.state.revoked_device_certificates,
        "DEVICE_CERTIFICATE",
        "deviceCertificateId",
        "Certificate is revoked by its issuer but is still active.",
    )


def revoked_ca_certificate(ctx: AuditContext) -> CheckOutcome:
    return _revoked(
        ctx.iot.ca_certificates.values(),
        ctx.state.revoked_ca_certificates,
        "CA_CERTIFICATE",
        "caCertificateId",
        "CA certificate is revoked by its issuer but is still active.",
    )


def _expiring(
    ctx: AuditContext,
    check_name: str,
    certificates: Iterable[FakeCertificate],
    resource_type: str,
    id_member: str,
) -> CheckOutcome:
    examined = _examined(certificates)
    horizon = ctx.now + timedelta(days=ctx.threshold_days(check_name))
    findings = []
    for certificate in examined:
        not_after = certificate_not_after(certificate.certificate_pem)
        if not_after is None or not_after > horizon:
            continue
        past = not_after <= ctx.now
        findings.append(
            RawFinding(
                resource_type,
                {id_member: certificate.certificate_id},
                "CERTIFICATE_PAST_EXPIRATION" if past else "CERTIFICATE_APPROACHING_EXPIRATION",
                "Certificate is past its expiration."
                if past
                else "Certificate is approaching its expiration.",
                additional_info={"EXPIRATION_TIME": _ms(not_after)},
            )
        )
    return CheckOutcome(len(examined), findings)


def device_certificate_expiring(ctx: AuditContext) -> CheckOutcome:
    return _expiring(
        ctx,
        "DEVICE_CERTIFICATE_EXPIRING_CHECK",
        ctx.iot.certificates.values(),
        "DEVICE_CERTIFICATE",
        "deviceCertificateId",
    )


def ca_certificate_expiring(ctx: AuditContext) -> CheckOutcome:
    return _expiring(
        ctx,
        "CA_CERTIFICATE_EXPIRING_CHECK",
        ctx.iot.ca_certificates.values(),
        "CA_CERTIFICATE",
        "caCertificateId",
    )


EVALUATORS: Final[dict[str, Callable[[AuditContext], CheckOutcome]]] = {
    "DEVICE_CERTIFICATE_SHARED_CHECK": device_certificate_shared,
    "CONFLICTING_CLIENT_IDS_CHECK": conflicting_client_ids,
    "LOGGING_DISABLED_CHECK": logging_disabled,
    "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": iot_policy_overly_permissive,
    "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": revoked_device_certificate,
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK": revoked_ca_certificate,
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": device_certificate_expiring,
    "CA_CERTIFICATE_EXPIRING_CHECK": ca_certificate_expiring,
}


def evaluate(check_name: str, ctx: AuditContext) -> CheckOutcome:
    evaluator = EVALUATORS.get(check_name)
    return evaluator(ctx) if evaluator is not None else CheckOutcome(0, [])
