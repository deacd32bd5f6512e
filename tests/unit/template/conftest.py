import pytest

from tests.unit.template.stack import ACCOUNT, Stack
from tools.sam_template import load

EVERYTHING_ON = {
    "ManageAccountAuditConfiguration": "true",
    "FindingPublisherRoleArn": f"arn:aws:iam::{ACCOUNT}:role/finding-publisher",
    "RemediationMode": "Enforce",
    "ScheduledAuditFrequency": "WEEKLY",
    "SecurityHubSync": "Enabled",
}


@pytest.fixture(scope="session")
def written() -> dict:
    return load()


@pytest.fixture(scope="session", params=[{}, EVERYTHING_ON], ids=["defaults", "everything-on"])
def stack(request: pytest.FixtureRequest, written: dict) -> Stack:
    return Stack(written, dict(request.param))
