"""What Device Defender knows about its audit checks and mitigation action types.

The check names, reason codes and action type names come from the core catalogue
(`audit_remediator.checks`); this adds what only the service's side needs (reference
device-defender.md §1.2 and §2.2): the resource type each check reports, its severity, and which
mitigation action types the service accepts for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from audit_remediator.checks import KNOWN_CHECKS, ActionType

SNS: Final[str] = ActionType.PUBLISH_FINDING_TO_SNS
DEV_CERT: Final[str] = ActionType.UPDATE_DEVICE_CERTIFICATE
CA_CERT: Final[str] = ActionType.UPDATE_CA_CERTIFICATE
THING_GROUP: Final[str] = ActionType.ADD_THINGS_TO_THING_GROUP
POLICY: Final[str] = ActionType.REPLACE_DEFAULT_POLICY_VERSION
LOGGING: Final[str] = ActionType.ENABLE_IOT_LOGGING

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

# What only AWS's side needs: check -> (resource type, severity, action types the service accepts).
# The action sets are the developer guide's "Audit check to mitigation action mapping"
# (dd-mitigation-actions.html). DEVICE_CERTIFICATE_AGE_CHECK is not in that table; the guide says
# only that every check supports PUBLISH_FINDING_TO_SNS, so that is all the emulator accepts for it.
_SERVICE_SIDE: Final[dict[str, tuple[str, str, frozenset[str]]]] = {
    "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK": ("COGNITO_IDENTITY_POOL", "CRITICAL", _SNS_ONLY),
    "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK": ("COGNITO_IDENTITY_POOL", "CRITICAL", _SNS_ONLY),
    "CA_CERTIFICATE_EXPIRING_CHECK": ("CA_CERTIFICATE", "MEDIUM", _CA_ACTIONS),
    "CA_CERTIFICATE_KEY_QUALITY_CHECK": ("CA_CERTIFICATE", "CRITICAL", _CA_ACTIONS),
    "CONFLICTING_CLIENT_IDS_CHECK": ("CLIENT_ID", "HIGH", _SNS_ONLY),
    "DEVICE_CERTIFICATE_AGE_CHECK": ("DEVICE_CERTIFICATE", "LOW", _SNS_ONLY),
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": ("DEVICE_CERTIFICATE", "MEDIUM", _DEVICE_CERT_ACTIONS),
    "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK": ("DEVICE_CERTIFICATE", "CRITICAL", _DEVICE_CERT_ACTIONS),
    "DEVICE_CERTIFICATE_SHARED_CHECK": ("DEVICE_CERTIFICATE", "CRITICAL", _DEVICE_CERT_ACTIONS),
    "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK": (
        "ISSUER_CERTIFICATE",
        "CRITICAL",
        _DEVICE_CERT_ACTIONS,
    ),
    "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": ("IOT_POLICY", "CRITICAL", _POLICY_ACTIONS),
    "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK": ("IOT_POLICY", "MEDIUM", _POLICY_ACTIONS),
    "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK": ("ROLE_ALIAS", "MEDIUM", _SNS_ONLY),
    "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK": ("ROLE_ALIAS", "CRITICAL", _SNS_ONLY),
    "LOGGING_DISABLED_CHECK": ("ACCOUNT_SETTINGS", "LOW", frozenset({SNS, LOGGING})),
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK": ("CA_CERTIFICATE", "CRITICAL", _CA_ACTIONS),
    "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": ("DEVICE_CERTIFICATE", "MEDIUM", _DEVICE_CERT_ACTIONS),
}

# The check names and reason codes are the core catalogue's: one list of what each check reports.
CHECKS: Final[dict[str, CheckSpec]] = {
    name: CheckSpec(name, resource_type, severity, KNOWN_CHECKS[name].reason_codes, actions)
    for name, (resource_type, severity, actions) in _SERVICE_SIDE.items()
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
