"""The account audit configuration is an account singleton: deploys meet it the way CloudFormation does."""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.account_audit_resource import ALREADY_EXISTS_MESSAGE, AlreadyExistsError
from tests.conftest import ACCOUNT_ID, ROOT

TEMPLATE = ROOT / "template.yaml"
EXISTING_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/set-up-by-hand-for-device-defender"


def samconfig_parameters(environment: str) -> dict[str, str]:
    """The parameter_overrides `sam deploy --config-env <environment>` passes."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(overrides))


def configure_audit_by_hand(sb: Sandbox) -> dict[str, Any]:
    iot = sb.client("iot")
    iot.update_account_audit_configuration(
        roleArn=EXISTING_ROLE, auditCheckConfigurations={"LOGGING_DISABLED_CHECK": {"enabled": True}}
    )
    return described(sb)


def described(sb: Sandbox) -> dict[str, Any]:
    configuration = dict(sb.client("iot").describe_account_audit_configuration())
    configuration.pop("ResponseMetadata")
    return configuration


def test_a_stack_cannot_create_the_configuration_of_an_account_that_has_one(sb: Sandbox) -> None:
    # Given an account where Device Defender audit was set up before
    before = configure_audit_by_hand(sb)
    # When a stack that owns the configuration is created there
    with pytest.raises(AlreadyExistsError, match=ALREADY_EXISTS_MESSAGE):
        sb.deploy(TEMPLATE, parameters={"ManageAccountAuditConfiguration": "true"})
    # Then CloudFormation's resource provider refuses, and the account's configuration is untouched
    assert sb.client("iot").describe_account_audit_configuration()["roleArn"] == before["roleArn"]


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_every_samconfig_environment_deploys_into_an_account_with_a_configuration(
    sb: Sandbox, environment: str
) -> None:
    # Given an account with its own audit configuration
    before = configure_audit_by_hand(sb)
    # When the environment is deployed as `sam deploy --config-env` would
    stack = sb.deploy(TEMPLATE, parameters=samconfig_parameters(environment))
    # Then the stack is created and leaves the account's configuration to its owner
    assert "AccountAuditConfiguration" not in stack.physical_ids
    assert described(sb) == before


def test_an_equivalent_configuration_is_taken_over_without_a_call(sb: Sandbox) -> None:
    # Given the configuration a first stack created, retained after that stack was deleted
    first = sb.deploy(
        TEMPLATE, parameters={"ManageAccountAuditConfiguration": "true", "ScheduledAuditFrequency": "NONE"}
    )
    configured = sb.client("iot").describe_account_audit_configuration()
    assert configured["roleArn"] == first.get_att("AuditRole", "Arn")
    sb.calls.clear()
    # When the provider's create meets it again with the same properties
    from sandbox.account_audit_resource import create_account_audit_configuration

    create_account_audit_configuration(
        sb.client("iot"),
        logical_id="AccountAuditConfiguration",
        template_account_id=ACCOUNT_ID,
        account_id=ACCOUNT_ID,
        request={
            "roleArn": configured["roleArn"],
            "auditCheckConfigurations": configured["auditCheckConfigurations"],
            "auditNotificationTargetConfigurations": configured["auditNotificationTargetConfigurations"],
        },
    )
    # Then it succeeds without writing (CreateHandler.areEquivalent)
    assert sb.calls.of("iot", "UpdateAccountAuditConfiguration") == []
