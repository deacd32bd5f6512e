"""Against a deployed stack: STACK_NAME=<name> make test-e2e (AWS credentials for its account).

Skipped when no stack is given or no credentials are found: the offline suites cover the logic.
"""

import json
import os
from typing import Any

import pytest

from tests.conftest import load_event, sns_message, with_message

boto3 = pytest.importorskip("boto3")
STACK_NAME = os.environ.get("STACK_NAME")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK_NAME, reason="no deployed stack: set STACK_NAME to run the e2e suite"),
]


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    if boto3.session.Session().get_credentials() is None:
        pytest.skip("no AWS credentials")
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def invoke(outputs: dict[str, str], name: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
    """Invoke the function as SNS would, with the event readdressed to this stack's topic."""
    event = load_event(name)
    topic = outputs["AuditEventsTopicArn"]
    record = event["Records"][0]
    record["Sns"]["TopicArn"] = topic
    record["EventSubscriptionArn"] = f"{topic}:00000000-0000-4000-8000-00000000e2e0"
    account = topic.split(":")[4]
    body = message if message is not None else sns_message(event)
    if "accountId" in body:
        body["accountId"] = account
    response = boto3.client("lambda").invoke(
        FunctionName=outputs["AuditEventsFunctionName"],
        Payload=json.dumps(with_message(event, body)).encode(),
    )
    assert "FunctionError" not in response, response["Payload"].read()
    result: dict[str, Any] = json.loads(response["Payload"].read())
    return result


def test_a_compliant_audit_is_recorded_and_starts_nothing(outputs: dict[str, str]) -> None:
    outcome = invoke(outputs, "compliant")
    assert outcome["decision"] == "no-action"
    assert outcome["execution"] is None


def test_a_detect_violation_is_rejected_and_quarantined(outputs: dict[str, str]) -> None:
    outcome = invoke(outputs, "detect-violation")
    assert outcome["decision"] == "rejected"
    assert outcome["reason"].startswith("detect-violation")
