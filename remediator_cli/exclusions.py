"""Exclusions: Device Defender audit suppressions, the one list of resources the service leaves alone.
A suppressed finding is reported apart and mitigation actions are not available for it (Device
Defender developer guide, "Audit finding suppressions")."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.checks import KNOWN_CHECKS, api_check_name, canonical_check_name
from remediator_cli.errors import Exit, OperatorError, error_code, explain
from remediator_cli.stack import Account

# The resource type each check reports. The API reference does not state it per check: inferred
# from each check's page and the ResourceIdentifier members' documentation (UNVERIFIED until seen in
# real findings; the sandbox's catalogue plays the same table, and a test keeps the two equal).
RESOURCE_TYPES: Final[dict[str, str]] = {
    "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK": "COGNITO_IDENTITY_POOL",
    "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK": "COGNITO_IDENTITY_POOL",
    "CA_CERTIFICATE_EXPIRING_CHECK": "CA_CERTIFICATE",
    "CA_CERTIFICATE_KEY_QUALITY_CHECK": "CA_CERTIFICATE",
    "CONFLICTING_CLIENT_IDS_CHECK": "CLIENT_ID",
    "DEVICE_CERTIFICATE_AGE_CHECK": "DEVICE_CERTIFICATE",
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": "DEVICE_CERTIFICATE",
    "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK": "DEVICE_CERTIFICATE",
    "DEVICE_CERTIFICATE_SHARED_CHECK": "DEVICE_CERTIFICATE",
    "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK": "ISSUER_CERTIFICATE",
    "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": "IOT_POLICY",
    "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK": "IOT_POLICY",
    "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK": "ROLE_ALIAS",
    "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK": "ROLE_ALIAS",
    "LOGGING_DISABLED_CHECK": "ACCOUNT_SETTINGS",
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK": "CA_CERTIFICATE",
    "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": "DEVICE_CERTIFICATE",
}
# ResourceIdentifier member naming a resource of each type, and what RESOURCE means on the command line.
_MEMBERS: Final[dict[str, tuple[str, str]]] = {
    "DEVICE_CERTIFICATE": ("deviceCertificateId", "a device certificate id"),
    "CA_CERTIFICATE": ("caCertificateId", "a CA certificate id"),
    "COGNITO_IDENTITY_POOL": ("cognitoIdentityPoolId", "a Cognito identity pool id"),
    "CLIENT_ID": ("clientId", "an MQTT client id"),
    "ACCOUNT_SETTINGS": ("account", "the 12-digit account id"),
    "ROLE_ALIAS": ("roleAliasArn", "a role alias ARN"),
}


def resource_identifier(check: str, resource: str) -> dict[str, Any]:
    """The ResourceIdentifier of RESOURCE for CHECK. An IoT policy is `NAME` or `NAME:VERSION`
    (a policy name cannot hold a colon)."""
    kind = RESOURCE_TYPES.get(canonical_check_name(check))
    if kind is None:
        known = ", ".join(sorted(KNOWN_CHECKS))
        raise OperatorError(f"unknown check {check}: use one of {known}", Exit.BAD_INPUT)
    if kind == "IOT_POLICY":
        name, _, version = resource.partition(":")
        identifier: dict[str, str] = {"policyName": name}
        if version:
            identifier["policyVersionId"] = version
        return {"policyVersionIdentifier": identifier}
    if kind not in _MEMBERS:
        raise OperatorError(
            f"{check} reports {kind.lower().replace('_', ' ')} resources, which the command line cannot name: "
            "suppress it in the Device Defender console",
            Exit.BAD_INPUT,
        )
    return {_MEMBERS[kind][0]: resource}


def describe_resource(identifier: dict[str, Any]) -> str:
    """RESOURCE as the command line takes it back."""
    policy = identifier.get("policyVersionIdentifier")
    if isinstance(policy, dict):
        version = policy.get("policyVersionId")
        return f"{policy.get('policyName')}:{version}" if version else str(policy.get("policyName"))
    for member, _ in _MEMBERS.values():
        if member in identifier:
            return str(identifier[member])
    return str(identifier)


def parse_until(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time (UTC unless it names an offset)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise OperatorError(
            f"--until {text!r} is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            Exit.BAD_INPUT,
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def exclude(
    account: Account, resource: str, check: str, until: datetime, reason: str | None
) -> dict[str, Any]:
    check = api_check_name(check)
    identifier = resource_identifier(check, resource)
    request: dict[str, Any] = {
        "checkName": check,
        "resourceIdentifier": identifier,
        "expirationDate": until,
        # The same exclusion asked twice (a retry) is one suppression, not an AlreadyExists error.
        "clientRequestToken": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{check}|{resource}|{until.isoformat()}")),
    }
    if reason:
        request["description"] = reason
    try:
        account.client("iot").create_audit_suppression(**request)
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceAlreadyExistsException":
            raise OperatorError(
                f"{resource} is already excluded from {check}: run `remediator include {resource} "
                f"--check {check}` first to change its expiry",
                Exit.BAD_INPUT,
            ) from error
        if code == "InvalidRequestException":
            message = error.response.get("Error", {}).get("Message", "")
            raise OperatorError(
                f"Device Defender refused the exclusion: {message}", Exit.BAD_INPUT
            ) from error
        raise explain(
            error, doing="creating the suppression", action="iot:CreateAuditSuppression", resource="*"
        ) from error
    except BotoCoreError as error:
        raise explain(
            error, doing="creating the suppression", action="iot:CreateAuditSuppression", resource="*"
        ) from error
    return {
        "checkName": check,
        "resource": resource,
        "resourceIdentifier": identifier,
        "expirationDate": until.isoformat(),
        "description": reason or "",
    }


def include(account: Account, resource: str, check: str) -> bool:
    """Removes the suppression; False when there was none (DeleteAuditSuppression does not tell)."""
    check = api_check_name(check)
    identifier = resource_identifier(check, resource)
    existed = bool(_list(account, check=check, identifier=identifier))
    if existed:
        try:
            account.client("iot").delete_audit_suppression(checkName=check, resourceIdentifier=identifier)
        except (ClientError, BotoCoreError) as error:
            raise explain(
                error, doing="deleting the suppression", action="iot:DeleteAuditSuppression", resource="*"
            ) from error
    return existed


def excluded(account: Account, check: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "checkName": item["checkName"],
            "resource": describe_resource(item.get("resourceIdentifier", {})),
            "resourceIdentifier": item.get("resourceIdentifier", {}),
            "expirationDate": item["expirationDate"].isoformat() if item.get("expirationDate") else None,
            "suppressIndefinitely": bool(item.get("suppressIndefinitely")),
            "description": item.get("description", ""),
        }
        for item in _list(account, check=api_check_name(check) if check else None, identifier=None)
    ]


def _list(account: Account, *, check: str | None, identifier: dict[str, Any] | None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {}
    if check:
        request["checkName"] = check
    if identifier:
        request["resourceIdentifier"] = identifier
    try:
        return [
            item
            for page in account.client("iot").get_paginator("list_audit_suppressions").paginate(**request)
            for item in page.get("suppressions", [])
        ]
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error, doing="listing suppressions", action="iot:ListAuditSuppressions", resource="*"
        ) from error
