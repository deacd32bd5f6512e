"""CloudFormation's create of AWS::IoT::AccountAuditConfiguration, as its resource provider does it.

Source: aws-cloudformation/aws-cloudformation-resource-providers-iot, aws-iot-accountauditconfiguration,
CreateHandler.java. The configuration is an account singleton: the provider reads it first and, when the
account already has an audit roleArn, succeeds only if the existing configuration is equivalent (same roleArn,
same set of enabled checks, same notification targets) and otherwise fails with AlreadyExists; without a
roleArn it calls UpdateAccountAuditConfiguration. AccountId must be the deploying account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sandbox.cloudformation.errors import DeployError

# CfnAlreadyExistsException(new Throwable(...)): the handler error code and the cause's message.
ALREADY_EXISTS_MESSAGE: Final = "A configuration with different properties already exists."


class AlreadyExistsError(DeployError):
    """The resource provider's AlreadyExists handler error."""


class InvalidRequestError(DeployError):
    """The resource provider's InvalidRequest handler error."""


def _enabled_checks(checks: Mapping[str, Any]) -> set[str]:
    return {name for name, check in checks.items() if check.get("enabled")}


def _equivalent(request: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    return (
        existing.get("roleArn") == request.get("roleArn")
        and _enabled_checks(existing.get("auditCheckConfigurations", {}))
        == _enabled_checks(request.get("auditCheckConfigurations", {}))
        and (existing.get("auditNotificationTargetConfigurations") or {})
        == (request.get("auditNotificationTargetConfigurations") or {})
    )


def create_account_audit_configuration(
    iot: Any, *, logical_id: str, template_account_id: str, account_id: str, request: Mapping[str, Any]
) -> None:
    if template_account_id != account_id:
        raise InvalidRequestError(
            f"{logical_id} (AWS::IoT::AccountAuditConfiguration) InvalidRequest: "
            f"AccountId in the template ({template_account_id}) doesn't match actual: {account_id}."
        )
    existing = iot.describe_account_audit_configuration()
    if existing.get("roleArn"):
        if _equivalent(request, existing):
            return
        raise AlreadyExistsError(
            f"{logical_id} (AWS::IoT::AccountAuditConfiguration) AlreadyExists: {ALREADY_EXISTS_MESSAGE} "
            f"The account already has a Device Defender audit configuration (role {existing['roleArn']}); "
            "deploy with ManageAccountAuditConfiguration=false and point it at the stack, or see the README's "
            "Deploy section."
        )
    iot.update_account_audit_configuration(**request)
