"""What Device Defender documents about its audit checks (reference §1.2, §1.4 and §2.2).

The catalogue is used to validate the rules table, never to reject notifications: a check we do not
know is parsed and handled as "no rule, no action".
"""

from dataclasses import dataclass
from enum import StrEnum


class ActionType(StrEnum):
    UPDATE_DEVICE_CERTIFICATE = "UPDATE_DEVICE_CERTIFICATE"
    UPDATE_CA_CERTIFICATE = "UPDATE_CA_CERTIFICATE"
    ADD_THINGS_TO_THING_GROUP = "ADD_THINGS_TO_THING_GROUP"
    REPLACE_DEFAULT_POLICY_VERSION = "REPLACE_DEFAULT_POLICY_VERSION"
    ENABLE_IOT_LOGGING = "ENABLE_IOT_LOGGING"
    PUBLISH_FINDING_TO_SNS = "PUBLISH_FINDING_TO_SNS"


@dataclass(frozen=True, slots=True)
class CheckInfo:
    name: str
    reason_codes: tuple[str, ...]
    actions: frozenset[ActionType]


_SNS = ActionType.PUBLISH_FINDING_TO_SNS
_DEVICE = frozenset({_SNS, ActionType.UPDATE_DEVICE_CERTIFICATE, ActionType.ADD_THINGS_TO_THING_GROUP})
_CA = frozenset({_SNS, ActionType.UPDATE_CA_CERTIFICATE})
_POLICY = frozenset({_SNS, ActionType.REPLACE_DEFAULT_POLICY_VERSION})
_SNS_ONLY = frozenset({_SNS})
_CERT_EXPIRY = ("CERTIFICATE_APPROACHING_EXPIRATION", "CERTIFICATE_PAST_EXPIRATION")
_KEY_QUALITY = ("CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361", "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166")

KNOWN_CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in (
        CheckInfo(
            "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
            (
                "ALLOWS_BROAD_ACCESS_TO_IOT_THING_ADMIN_READ_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_NON_THING_ADMIN_ACTIONS",
                "ALLOWS_ACCESS_TO_IOT_THING_ADMIN_WRITE_ACTIONS",
            ),
            _SNS_ONLY,
        ),
        CheckInfo(
            "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
            ("ALLOWS_ACCESS_TO_IOT_ADMIN_ACTIONS", "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"),
            _SNS_ONLY,
        ),
        CheckInfo("CA_CERTIFICATE_EXPIRING_CHECK", _CERT_EXPIRY, _CA),
        CheckInfo("CA_CERTIFICATE_KEY_QUALITY_CHECK", _KEY_QUALITY, _CA),
        CheckInfo("CONFLICTING_CLIENT_IDS_CHECK", ("DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS",), _SNS_ONLY),
        # The guide's audit-check-to-mitigation-action table (dd-mitigation-actions.html) does not list
        # the age check; it documents only that every check supports PUBLISH_FINDING_TO_SNS.
        CheckInfo("DEVICE_CERTIFICATE_AGE_CHECK", ("CERTIFICATE_PAST_AGE_THRESHOLD",), _SNS_ONLY),
        CheckInfo("DEVICE_CERTIFICATE_EXPIRING_CHECK", _CERT_EXPIRY, _DEVICE),
        CheckInfo("DEVICE_CERTIFICATE_KEY_QUALITY_CHECK", _KEY_QUALITY, _DEVICE),
        CheckInfo("DEVICE_CERTIFICATE_SHARED_CHECK", ("CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",), _DEVICE),
        CheckInfo(
            "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
            ("INTERMEDIATE_CA_REVOKED_BY_ISSUER",),
            _DEVICE,
        ),
        CheckInfo(
            "IOT_POLICY_OVERLY_PERMISSIVE_CHECK", ("ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",), _POLICY
        ),
        CheckInfo(
            "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
            (
                "POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT",
                "TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS",
            ),
            _POLICY,
        ),
        CheckInfo(
            "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK",
            ("ALLOWS_ACCESS_TO_UNUSED_SERVICES",),
            _SNS_ONLY,
        ),
        CheckInfo(
            "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK",
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
        CheckInfo(
            "LOGGING_DISABLED_CHECK", ("LOGGING_DISABLED",), frozenset({_SNS, ActionType.ENABLE_IOT_LOGGING})
        ),
        CheckInfo("REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK", ("CERTIFICATE_REVOKED_BY_ISSUER",), _CA),
        CheckInfo(
            "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK", ("CERTIFICATE_REVOKED_BY_ISSUER",), _DEVICE
        ),
    )
}

# Names in AWS's own documentation that are not API check names (reference §1.4): normalised on
# input, so a mapping never sends the API a name it does not know.
LEGACY_CHECK_NAMES: dict[str, str] = {
    "REVOKED_CA_CERT_CHECK": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
    "CA_CERT_APPROACHING_EXPIRATION_CHECK": "CA_CERTIFICATE_EXPIRING_CHECK",
    "DEVICE_CERT_APPROACHING_EXPIRATION_CHECK": "DEVICE_CERTIFICATE_EXPIRING_CHECK",
    "REVOKED_DEVICE_CERT_CHECK": "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
    "IOT_POLICY_UNRESTRICTED_CHECK": "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
    "UNAUTHENTICATED_COGNITO_IDENTITY_UNRESTRICTED_ACCESS_CHECK": (
        "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK"
    ),
    "AUTHENTICATED_COGNITO_IDENTITY_UNRESTRICTED_ACCESS_CHECK": "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
}
# Which spelling of the misconfiguration check the live API uses is UNVERIFIED: both find the same
# rule, and the name a notification carries is passed to the API unchanged.
SPELLING_VARIANTS: dict[str, str] = {
    "IOT_POLICY_POTENTIAL_MIS_CONFIGURATION_CHECK": "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
}


def api_check_name(name: str) -> str:
    """The name to use towards the API: documentation-only names replaced, everything else as given."""
    return LEGACY_CHECK_NAMES.get(name, name)


def canonical_check_name(name: str) -> str:
    """The catalogue's name for a check, to find its rule and its facts."""
    name = api_check_name(name)
    return SPELLING_VARIANTS.get(name, name)


def check_info(name: str) -> CheckInfo | None:
    return KNOWN_CHECKS.get(canonical_check_name(name))
