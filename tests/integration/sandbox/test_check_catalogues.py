"""The core's check catalogue and the emulator's describe the same checks; where they differ, on purpose.

The emulator takes check names and reason codes from the core and adds the service's side (resource
types, severities, the action types the service accepts). The action sets are both AWS's documented
"Audit check to mitigation action mapping" (developer guide, dd-mitigation-actions.html), so they
must agree except where listed below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from audit_remediator.checks import KNOWN_CHECKS, LEGACY_CHECK_NAMES, SPELLING_VARIANTS
from sandbox.device_defender import DeviceDefenderEmulator
from sandbox.device_defender.catalog import CHECKS
from tests.conftest import ACCOUNT_ID
from tests.integration.sandbox.emulator_support import make_clients

# check -> why the core allows a different set of action types than the service accepts. Empty: the
# guide's table does not list DEVICE_CERTIFICATE_AGE_CHECK and says every check supports
# PUBLISH_FINDING_TO_SNS, so both sides allow only that for it.
INTENDED_ACTION_DIFFERENCES: dict[str, str] = {}
# Names the core accepts from notifications and rules but the API does not: documentation-only names
# and the unverified spelling of the misconfiguration check (reference §1.4).
CORE_ONLY_NAMES = set(LEGACY_CHECK_NAMES) | set(SPELLING_VARIANTS)
AGE = "DEVICE_CERTIFICATE_AGE_CHECK"


def test_both_catalogues_know_the_same_api_checks() -> None:
    assert set(CHECKS) == set(KNOWN_CHECKS)
    assert CORE_ONLY_NAMES.isdisjoint(CHECKS)


def test_reason_codes_are_the_cores() -> None:
    assert {name: spec.reason_codes for name, spec in CHECKS.items()} == {
        name: info.reason_codes for name, info in KNOWN_CHECKS.items()
    }


def test_allowed_action_types_differ_only_where_intended() -> None:
    differing = {
        name
        for name, spec in CHECKS.items()
        if spec.actions != {str(action) for action in KNOWN_CHECKS[name].actions}
    }
    assert differing == set(INTENDED_ACTION_DIFFERENCES)


@pytest.fixture
def iot() -> Iterator[Any]:
    with mock_aws(), DeviceDefenderEmulator(audit_seconds=0) as emulator:
        client = make_clients().iot
        client.create_mitigation_action(
            actionName="Deactivate",
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/mitigation",
            actionParams={"updateDeviceCertificateParams": {"action": "DEACTIVATE"}},
        )
        emulator.seed_audit({AGE: [{"deviceCertificateId": "a" * 64}]})
        yield client


def test_the_service_refuses_an_undocumented_action_type_for_the_certificate_age_check(iot: Any) -> None:
    # Given a finding of the age check, when a task maps the check to UPDATE_DEVICE_CERTIFICATE
    (finding,) = iot.list_audit_findings(checkName=AGE, startTime=0, endTime=4102444800)["findings"]
    with pytest.raises(ClientError) as refused:
        iot.start_audit_mitigation_actions_task(
            taskId="age-task",
            target={"findingIds": [finding["findingId"]]},
            auditCheckToActionsMapping={AGE: ["Deactivate"]},
            clientRequestToken="age-token",
        )
    # Then the service refuses the whole task, as it does for any action the mapping table omits
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "cannot be used for DEVICE_CERTIFICATE_AGE_CHECK" in refused.value.response["Error"]["Message"]
