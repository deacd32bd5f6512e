"""SecurityHubSyncFunction's settings and its request: off means no client at all; a bad environment
or request is refused with its reason; the note stays within Security Hub's 512 characters."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audit_remediator.adapters.securityhub import SecurityHubClient
from audit_remediator.errors import SettingsError
from audit_remediator.securityhub_services import SecurityHubSyncSettings, sync
from audit_remediator.securityhub_sync import MAX_NOTE, SecurityHubSyncRequest

ENVIRONMENT = {
    "SECURITY_HUB_SYNC": "Disabled",
    "AUDIT_PRODUCT_ARN": "arn:aws:securityhub:eu-west-1::product/aws/iot-device-defender-audit",
    "ACCOUNT_ID": "123456789012",
    "NOTE_AUTHOR": "iot-audit-remediator",
    "REMEDIATION_TABLE_NAME": "iot-audit-remediator-remediation",
}
REQUEST = {
    "findingIds": ["f-1"],
    "workflowStatus": "RESOLVED",
    "event": "verified",
    "mitigationTaskId": "t-1",
    "report": "r",
}


def _no_client(_settings: SecurityHubSyncSettings) -> SecurityHubClient:
    raise AssertionError("the sync is off: no Security Hub client may be made")


def test_with_the_sync_off_the_function_makes_no_client() -> None:
    result = sync(REQUEST, SecurityHubSyncSettings.from_environment(ENVIRONMENT), client=_no_client)

    assert result == {
        "sync": "off",
        "workflowStatus": "RESOLVED",
        "updated": [],
        "notFound": [],
        "unprocessed": [],
        "keptStatus": [],
    }


def test_the_region_comes_from_the_product_arn() -> None:
    assert SecurityHubSyncSettings.from_environment(ENVIRONMENT).region == "eu-west-1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECURITY_HUB_SYNC", "enabled"),
        ("AUDIT_PRODUCT_ARN", "arn:aws:securityhub:eu-west-1::product/aws/guardduty"),
        ("ACCOUNT_ID", "12345"),
        ("NOTE_AUTHOR", ""),
    ],
)
def test_a_malformed_environment_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        SecurityHubSyncSettings.from_environment({**ENVIRONMENT, name: value})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"workflowStatus": "SUPPRESSED"}, "workflowStatus"),
        ({"findingIds": []}, "findingIds"),
        ({"findingIds": ["has space"]}, "findingIds"),
        ({"mitigationTaskId": "a:b"}, "mitigationTaskId"),
        ({"unexpected": 1}, "unexpected"),
        ({"workflowStatus": None, "onlyFrom": "NOTIFIED"}, "onlyFrom needs a workflowStatus"),
    ],
)
def test_a_request_the_service_never_makes_is_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SecurityHubSyncRequest.model_validate({**REQUEST, **change})


def test_the_note_never_exceeds_security_hubs_limit() -> None:
    request = SecurityHubSyncRequest.model_validate(
        {**REQUEST, "event": "e" * 200, "mitigationTaskId": "t" * 128, "report": "r" * 300}
    )

    assert len(request.note) == MAX_NOTE
    assert request.note.startswith("IoT Audit Remediator: " + "e" * 200)
