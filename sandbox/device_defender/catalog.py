"""What Device Defender knows about its audit checks and mitigation action types.

Facts from the project's reference (reference/device-defender.md §1.2 and §2.2): API check names,
the resource type each check reports, its reason codes and severity, and which mitigation action
types AWS supports for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SNS: Final = "PUBLISH_FINDING_TO_SNS"
DEV_CERT: Final = "UPDATE_DEVICE_CERTIFICATE"
CA_CERT: Final = "UPDATE_CA_CERTIFICATE"
THING_GROUP: Final = "ADD_THINGS_TO_THING_GROUP"
POLICY: Final = "REPLACE_DEFAULT_POLICY_VERSION"
LOGGING: Final = "ENABLE_IOT_LOGGING"

# actionParams member -> action type (a mitigation action holds exactly one member).
ACTION_TYPE_BY_PARAMS: Final[dict[str, str]] = {
    "updateDeviceCertificateParams": DEV_CERT,
    "updateCACertificateParams": CA_CERT,
    "addThingsToThingGroupParams": THING_GROUP,
    "replaceDefaultPolicyVersionParams": POLICY,
    "enableIoTLoggingParams": LOGGING,
    "publishFindingToSnsParams": SNS,
}


@dataclass(frozen=True)
class CheckSpec:
    name: str
    resource_type: str
    severity: str
    reason_codes: tuple[str, ...]
    actions: frozenset[str]


_DEVICE_CERT_ACTIONS: Final = frozenset({SNS, DEV_CERT, THING_GROUP})
_CA_ACTIONS: Final = frozenset({SNS, CA_CERT})
_POLICY_ACTIONS: Final = frozenset({SNS, POLICY})
_SNS_ONLY: Final = frozenset({SNS})

CHECKS: Final[dict[str, CheckSpec]] = {
    spec.name: spec
    for spec in (
        CheckSpec(
            "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
            "COGNITO_IDENTITY_POOL",
            "CRITICAL",
            (
                "ALLOWS_BROAD_ACCESS_TO_IOT_THING_ADMIN_READ_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_NON_THING_ADMIN_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_THING_ADMIN_WRITE_ACTIONS",
            ),
            _SNS_ONLY,
        ),
        CheckSpec(
            "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
            "COGNITO_IDENTITY_POOL",
            "CRITICAL",
            ("ALLOWS_ACCESS_TO_IOT_ADMIN_ACTIONS", "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"),
            _SNS_ONLY,
        ),
        CheckSpec(
            "CA_CERTIFICATE_EXPIRING_CHECK",
            "CA_CERTIFICATE",
            "MEDIUM",
            ("CERTIFICATE_APPROACHING_EXPIRATION", "CERTIFICATE_PAST_EXPIRATION"),
            _CA_ACTIONS,
        ),
        CheckSpec(
            "CA_CERTIFICATE_KEY_QUALITY_CHECK",
            "CA_CERTIFICATE",
            "CRITICAL",
            ("CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361", "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166"),
            _CA_ACTIONS,
        ),
        CheckSpec(
            "CONFLICTING_CLIENT_IDS_CHECK",
            "CLIENT_ID",
            "HIGH",
            ("DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS",),
            _SNS_ONLY,
        ),
        CheckSpec(
            "DEVICE_CERTIFICATE_AGE_CHECK",
            "DEVICE_CERTIFICATE",
            "LOW",
            ("CERTIFICATE_PAST_AGE_THRESHOLD",),
            _DEVICE_CERT_ACTIONS,
        ),
        CheckSpec(
            "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            "DEVICE_CERTIFICATE",
            "MEDIUM",
            ("CERTIFICATE_APPROACHING_EXPIRATION", "CERTIFICATE_PAST_EXPIRATION"),
            _DEVICE_CERT_ACTIONS,
        ),
        CheckSpec(
            "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
            "DEVICE_CERTIFICATE",
            "CRITICAL",
            ("CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361", "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166"),
            _DEVICE_CERT_ACTIONS,
        ),
        CheckSpec(
            "DEVICE_CERTIFICATE_SHARED_CHECK",
            "DEVICE_CERTIFICATE",
            "CRITICAL",
            ("CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",),
            _DEVICE_CERT_ACTIONS,
        ),
        CheckSpec(
            "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
            "ISSUER_CERTIFICATE",
            "CRITICAL",
            ("INTERMEDIATE_CA_REVOKED_BY_ISSUER",),
            _DEVICE_CERT_ACTIONS,
        ),
        CheckSpec(
            "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
            "IOT_POLICY",
            "CRITICAL",
            ("ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",),
            _POLICY_ACTIONS,
        ),
        CheckSpec(
            "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
            "IOT_POLICY",
            "MEDIUM",
            (
                "POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT",
                "TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS",
            ),
            _POLICY_ACTIONS,
        ),
        CheckSpec(
            "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK",
            "ROLE_ALIAS",
            "MEDIUM",
            ("ALLOWS_ACCESS_TO_UNUSED_SERVICES",),
            _SNS_ONLY,
        ),
        CheckSpec(
            "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK",
            "ROLE_ALIAS",
            "CRITICAL",
            (
                "ALLOWS_BROAD_ACCESS_TO_USED_SERVICES",
                "ALLOWS_ACCESS_TO_SECURITY_AUDITING_SERVICES",
                "ALLOWS_BROAD_ACCESS_TO_IOT_THING_ADMIN_READ_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_NON_THING_ADMIN_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_THING_ADMIN_WRITE_ACTIONS",
                "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
            ),
            _SNS_ONLY,
        ),
        CheckSpec(
            "LOGGING_DISABLED_CHECK",
            "ACCOUNT_SETTINGS",
            "LOW",
            ("LOGGING_DISABLED",),
            frozenset({SNS, LOGGING}),
        ),
        CheckSpec(
            "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            "CA_CERTIFICATE",
            "CRITICAL",
            ("CERTIFICATE_REVOKED_BY_ISSUER",),
            _CA_ACTIONS,
        ),
        CheckSpec(
            "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
            "DEVICE_CERTIFICATE",
            "MEDIUM",
            ("CERTIFICATE_REVOKED_BY_ISSUER",),
            _DEVICE_CERT_ACTIONS,
        ),
    )
}

# Checks that carry a configurable threshold, with the service's defaults (reference §1.3).
DEFAULT_CHECK_CONFIGURATION: Final[dict[str, dict[str, str]]] = {
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": {"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "30"},
    "DEVICE_CERTIFICATE_AGE_CHECK": {"CERT_AGE_THRESHOLD_IN_DAYS": "365"},
}
# Which configuration names a check accepts; the CA expiring check honours the same threshold name.
ACCEPTED_CONFIGURATION: Final[dict[str, frozenset[str]]] = {
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": frozenset({"CERT_EXPIRATION_THRESHOLD_IN_DAYS"}),
    "CA_CERTIFICATE_EXPIRING_CHECK": frozenset({"CERT_EXPIRATION_THRESHOLD_IN_DAYS"}),
    "DEVICE_CERTIFICATE_AGE_CHECK": frozenset({"CERT_AGE_THRESHOLD_IN_DAYS"}),
}
THRESHOLD_DAYS_RANGE: Final = (30, 3652)
