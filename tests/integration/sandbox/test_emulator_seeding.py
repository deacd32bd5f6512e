"""The emulator's public seams for tests and tools: seeding a completed audit, reading its records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from sandbox.device_defender import DeviceDefenderEmulator, ManualClock
from tests.conftest import ACCOUNT_ID
from tests.integration.sandbox.emulator_support import audit_findings, make_clients

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/audit"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"


@dataclass
class Env:
    emulator: DeviceDefenderEmulator
    iot: Any
    published: list[tuple[str, str]]


@pytest.fixture
def env() -> Iterator[Env]:
    published: list[tuple[str, str]] = []
    with (
        mock_aws(),
        DeviceDefenderEmulator(
            clock=ManualClock(NOW),
            audit_seconds=0,
            mitigation_task_seconds=0,
            publisher=lambda topic, message: published.append((topic, message)),
        ) as emulator,
    ):
        yield Env(emulator, make_clients().iot, published)


def test_a_seeded_audit_is_a_completed_audit_with_the_findings_the_service_would_report(env: Env) -> None:
    # Given two resources for one check and one for another, one with a chosen reason code
    identifiers = [{"deviceCertificateId": f"{n:064x}"} for n in range(2)]
    # When they are seeded as one audit
    seeded = env.emulator.seed_audit(
        {EXPIRING: identifiers, LOGGING: [{"account": ACCOUNT_ID}]},
        reason_codes={EXPIRING: "CERTIFICATE_PAST_EXPIRATION"},
    )
    # Then the API describes a completed audit with those counts and findings
    task = env.iot.describe_audit_task(taskId=seeded.task_id)
    assert task["taskStatus"] == "COMPLETED"
    assert task["taskStatistics"]["nonCompliantChecks"] == 2
    assert task["auditDetails"][EXPIRING]["nonCompliantResourcesCount"] == 2
    findings = {f["findingId"]: f for f in audit_findings(env.iot, seeded.task_id)}
    assert set(findings) == {*seeded.ids(EXPIRING), *seeded.ids(LOGGING)}
    expiring = [findings[i] for i in seeded.ids(EXPIRING)]
    assert [f["nonCompliantResource"]["resourceIdentifier"] for f in expiring] == identifiers
    assert {(f["severity"], f["reasonForNonComplianceCode"]) for f in expiring} == {
        ("MEDIUM", "CERTIFICATE_PAST_EXPIRATION")
    }
    (logging,) = (findings[i] for i in seeded.ids(LOGGING))
    assert (logging["nonCompliantResource"]["resourceType"], logging["reasonForNonComplianceCode"]) == (
        "ACCOUNT_SETTINGS",
        "LOGGING_DISABLED",
    )
    # and nothing is published for it
    assert env.emulator.published == []


def test_a_seeded_audit_can_be_mitigated_and_its_task_read_back(env: Env) -> None:
    # Given a seeded finding on a real, active device certificate
    certificate = env.iot.create_keys_and_certificate(setAsActive=True)
    seeded = env.emulator.seed_audit({EXPIRING: [{"deviceCertificateId": certificate["certificateId"]}]})
    env.iot.create_mitigation_action(
        actionName="Deactivate",
        roleArn=ROLE,
        actionParams={"updateDeviceCertificateParams": {"action": "DEACTIVATE"}},
    )
    # When a mitigation task targets the audit
    env.iot.start_audit_mitigation_actions_task(
        taskId="seeded-task",
        target={"auditTaskId": seeded.task_id},
        auditCheckToActionsMapping={EXPIRING: ["Deactivate"]},
        clientRequestToken="seeded-token",
    )
    env.emulator.settle()
    # Then the certificate is deactivated, and the public reads show the task and the finding
    described = env.iot.describe_certificate(certificateId=certificate["certificateId"])
    assert described["certificateDescription"]["status"] == "INACTIVE"
    assert env.emulator.mitigation_tasks()["seeded-task"].status == "COMPLETED"
    (finding_id,) = seeded.ids(EXPIRING)
    assert env.emulator.finding(finding_id).task_id == seeded.task_id
    assert env.emulator.audit(seeded.task_id).status == "COMPLETED"


def test_the_audit_notification_is_the_message_the_service_publishes(env: Env) -> None:
    # Given an account whose audits notify an SNS topic
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:audits"
    env.iot.update_account_audit_configuration(
        roleArn=ROLE,
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}},
        auditCheckConfigurations={LOGGING: {"enabled": True}},
    )
    # When an audit runs and completes
    task_id = env.iot.start_on_demand_audit_task(targetCheckNames=[LOGGING])["taskId"]
    # Then the notification the emulator offers is exactly the one it published
    ((published_topic, message),) = env.published
    assert published_topic == topic
    assert env.emulator.audit_notification(task_id) == json.loads(message)
    assert env.emulator.audit_notification(task_id)["nonCompliantChecksCount"] == 1


@pytest.mark.parametrize(
    ("findings", "reason_codes", "complaint"),
    [
        (
            {EXPIRING: [{"deviceCertificateId": "0" * 64}]},
            {EXPIRING: "LOGGING_DISABLED"},
            "not a reason code",
        ),
        ({"NO_SUCH_CHECK": [{"account": ACCOUNT_ID}]}, None, "not an API check name"),
    ],
)
def test_seeding_what_the_service_never_reports_is_refused_and_records_nothing(
    env: Env, findings: dict[str, list[dict[str, str]]], reason_codes: dict[str, str] | None, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        env.emulator.seed_audit(findings, reason_codes=reason_codes)
    tasks = env.iot.list_audit_tasks(startTime=NOW.replace(hour=0), endTime=NOW.replace(hour=23))
    assert tasks["tasks"] == []
