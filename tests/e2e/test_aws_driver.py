"""The real-account driver acts only as asked: an Enforce stack needs ENFORCE=1, and the account's audit
notifications must reach the stack. AWS's answers come from botocore's Stubber, checked against its models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.e2e.drivers import AwsDriver, RefusedError

TOPIC = "arn:aws:sns:eu-west-1:123456789012:e2e-stack-audit-events"
CHECKS = ("DEVICE_CERTIFICATE_SHARED_CHECK", "IOT_POLICY_OVERLY_PERMISSIVE_CHECK")


class StubbedSession:
    """A boto3 session whose clients answer from stubs queued per service."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
            )
            self.stubbers[service] = Stubber(self.clients[service])
            self.stubbers[service].activate()
        return self.clients[service]

    def stub(self, service: str, operation: str, response: dict[str, Any]) -> None:
        self.client(service)
        self.stubbers[service].add_response(operation, response)


@pytest.fixture
def session() -> Iterator[StubbedSession]:
    stubbed = StubbedSession()
    yield stubbed
    for stubber in stubbed.stubbers.values():
        stubber.assert_no_pending_responses()


def stack(session: StubbedSession, mode: str) -> None:
    session.stub(
        "cloudformation",
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "e2e-stack",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Parameters": [{"ParameterKey": "RemediationMode", "ParameterValue": mode}],
                    "Outputs": [{"OutputKey": "AuditEventsTopicArn", "OutputValue": TOPIC}],
                }
            ]
        },
    )


def audit_configuration(session: StubbedSession, target: str, *, enabled: bool = True) -> None:
    session.stub(
        "iot",
        "describe_account_audit_configuration",
        {
            "auditNotificationTargetConfigurations": {
                "SNS": {
                    "targetArn": target,
                    "roleArn": "arn:aws:iam::123456789012:role/n",
                    "enabled": enabled,
                }
            },
            "auditCheckConfigurations": {check: {"enabled": True} for check in CHECKS},
        },
    )


def test_an_enforce_stack_is_refused_without_enforce(session: StubbedSession) -> None:
    stack(session, "Enforce")
    with pytest.raises(RefusedError, match="ENFORCE=1"):
        AwsDriver("e2e-stack", enforce=False, session=session)


def test_enforce_is_refused_on_a_dry_run_stack(session: StubbedSession) -> None:
    stack(session, "DryRun")
    with pytest.raises(RefusedError, match="runs in DryRun mode"):
        AwsDriver("e2e-stack", enforce=True, session=session)


@pytest.mark.parametrize(
    ("target", "enabled"), [("arn:aws:sns:eu-west-1:123456789012:other", True), (TOPIC, False)]
)
def test_audit_notifications_elsewhere_are_refused(
    session: StubbedSession, target: str, enabled: bool
) -> None:
    stack(session, "DryRun")
    audit_configuration(session, target, enabled=enabled)
    with pytest.raises(RefusedError, match="do not go to"):
        AwsDriver("e2e-stack", enforce=False, session=session)


@pytest.mark.parametrize(("mode", "enforce"), [("DryRun", False), ("Enforce", True)])
def test_a_stack_whose_mode_matches_is_driven(session: StubbedSession, mode: str, enforce: bool) -> None:
    stack(session, mode)
    audit_configuration(session, TOPIC)
    driver = AwsDriver("e2e-stack", enforce=enforce, session=session)
    assert driver.enforce is enforce
    assert driver.outputs["AuditEventsTopicArn"] == TOPIC
