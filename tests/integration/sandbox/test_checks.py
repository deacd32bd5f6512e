"""Audit checks over moto's IoT state: each seeded defect is found, exactly, and a healthy fleet is clean.

Also covers what an audit reports around its findings: counts and check statuses, suppressions,
the audit-completion SNS message (reference §5.1), scheduled audits and progress over time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from sandbox.device_defender import DeviceDefenderEmulator, ManualClock, SystemClock
from sandbox.device_defender.catalog import CHECKS
from sandbox.device_defender.checks import broad_data_plane_actions
from sandbox.fleet import EVALUATED_CHECKS, SCENARIOS, SeededFleet, resource_label, seed_fleet
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.sandbox.emulator_support import (
    Clients,
    audit_findings,
    make_clients,
    received,
    subscribed_queue,
)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/device-defender-audit"
# moto dates the certificates it creates from the real clock, so the emulator's clock starts now.
NOW = datetime.now(UTC).replace(microsecond=0)
NOTIFICATION_KEYS = {
    "accountId",
    "taskId",
    "taskStatus",
    "taskType",
    "failedChecksCount",
    "canceledChecksCount",
    "nonCompliantChecksCount",
    "compliantChecksCount",
    "totalChecksCount",
    "taskStartTime",
    "auditDetails",
}
DETAIL_KEYS = {
    "checkName",
    "checkRunStatus",
    "nonCompliantResourcesCount",
    "totalResourcesCount",
    "suppressedNonCompliantResourcesCount",
}


@dataclass
class Env:
    emulator: DeviceDefenderEmulator
    clock: ManualClock
    iot: Any
    sns: Any
    sqs: Any

    def seed(self, scenario: str) -> SeededFleet:
        return seed_fleet(scenario, emulator=self.emulator, iot=self.iot)

    def enable(self, checks: tuple[str, ...] = EVALUATED_CHECKS, **config: Any) -> None:
        self.iot.update_account_audit_configuration(
            roleArn=ROLE, auditCheckConfigurations={c: {"enabled": True} for c in checks}, **config
        )

    def audit(self, checks: tuple[str, ...] = EVALUATED_CHECKS) -> str:
        task_id: str = self.iot.start_on_demand_audit_task(targetCheckNames=list(checks))["taskId"]
        return task_id

    def findings(self, task_id: str, **filters: Any) -> list[dict[str, Any]]:
        return audit_findings(self.iot, task_id, **filters)

    def found(self, task_id: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {check: set() for check in EVALUATED_CHECKS}
        for finding in self.findings(task_id):
            found[finding["checkName"]].add(
                resource_label(finding["nonCompliantResource"]["resourceIdentifier"])
            )
        return found

    def notification_queue(self) -> tuple[str, str]:
        """An SNS topic for audit notifications with an SQS queue subscribed; returns (topic, queue url)."""
        return subscribed_queue(self.sns, self.sqs, "audit-notifications")

    def received(self, queue: str) -> list[dict[str, Any]]:
        return received(self.sqs, queue)


@pytest.fixture(scope="module")
def clients() -> Clients:
    with mock_aws():
        return make_clients()


@pytest.fixture
def env(clients: Clients) -> Iterator[Env]:
    clock = ManualClock(NOW)
    with mock_aws(), DeviceDefenderEmulator(clock=clock, audit_seconds=0, seed=7) as emulator:
        yield Env(emulator, clock, clients.iot, clients.sns, clients.sqs)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_check_finds_exactly_the_seeded_bad_resources(env: Env, scenario: str) -> None:
    fleet = env.seed(scenario)
    env.enable()

    task_id = env.audit()

    assert env.found(task_id) == fleet.expected
    details = env.iot.describe_audit_task(taskId=task_id)["auditDetails"]
    for check, expected in fleet.expected.items():
        assert details[check]["nonCompliantResourcesCount"] == len(expected)
        assert details[check]["checkRunStatus"] == (
            "COMPLETED_NON_COMPLIANT" if expected else "COMPLETED_COMPLIANT"
        )
    for finding in env.findings(task_id):
        spec = CHECKS[finding["checkName"]]
        assert finding["severity"] == spec.severity
        assert finding["nonCompliantResource"]["resourceType"] == spec.resource_type
        assert finding["reasonForNonComplianceCode"] in spec.reason_codes
        assert finding["taskId"] == task_id
        assert finding["isSuppressed"] is False


def test_the_healthy_fleet_has_no_findings_although_every_check_examined_resources(env: Env) -> None:
    env.seed("healthy")
    env.enable()

    task_id = env.audit()

    task = env.iot.describe_audit_task(taskId=task_id)
    assert env.findings(task_id) == []
    assert task["taskStatistics"]["compliantChecks"] == len(EVALUATED_CHECKS)
    assert all(d["totalResourcesCount"] > 0 for d in task["auditDetails"].values())


def test_the_workshop_fleet_reports_the_shared_certificate_its_users_and_the_permissive_policy(
    env: Env,
) -> None:
    fleet = env.seed("workshop")
    env.enable()

    findings = {f["checkName"]: f for f in env.findings(env.audit())}

    shared = findings["DEVICE_CERTIFICATE_SHARED_CHECK"]
    assert shared["nonCompliantResource"]["resourceIdentifier"] == {
        "deviceCertificateId": fleet.certificates["SharedCertificate"]
    }
    assert {r["resourceIdentifier"]["clientId"] for r in shared["relatedResources"]} == {
        "SensorDevice01",
        "SensorDevice02",
    }
    assert all("CONNECTION_TIME" in r["additionalInfo"] for r in shared["relatedResources"])
    policy = findings["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"]["nonCompliantResource"]["resourceIdentifier"]
    assert policy == {
        "policyVersionIdentifier": {"policyName": "DDWorkshopAllowAllPolicy", "policyVersionId": "1"}
    }
    assert findings["LOGGING_DISABLED_CHECK"]["nonCompliantResource"] == {
        "resourceType": "ACCOUNT_SETTINGS",
        "resourceIdentifier": {"account": ACCOUNT_ID},
    }


@pytest.mark.parametrize(
    ("scenario", "check"),
    [
        ("expiring-device-certificate", "DEVICE_CERTIFICATE_EXPIRING_CHECK"),
        ("expiring-ca-certificate", "CA_CERTIFICATE_EXPIRING_CHECK"),
    ],
)
def test_expiring_certificates_are_told_apart_from_expired_ones(env: Env, scenario: str, check: str) -> None:
    env.seed(scenario)
    env.enable()

    findings = env.findings(env.audit(), checkName=check)

    codes = sorted(f["reasonForNonComplianceCode"] for f in findings)
    assert codes == ["CERTIFICATE_APPROACHING_EXPIRATION", "CERTIFICATE_PAST_EXPIRATION"]
    for finding in findings:
        expires = int(finding["nonCompliantResource"]["additionalInfo"]["EXPIRATION_TIME"]) / 1000
        past = finding["reasonForNonComplianceCode"] == "CERTIFICATE_PAST_EXPIRATION"
        assert (expires < NOW.timestamp()) is past


def test_the_expiration_threshold_comes_from_the_account_audit_configuration(env: Env) -> None:
    fleet = env.seed("healthy")
    env.enable()
    assert env.found(env.audit())["DEVICE_CERTIFICATE_EXPIRING_CHECK"] == set()

    env.iot.update_account_audit_configuration(
        auditCheckConfigurations={
            "DEVICE_CERTIFICATE_EXPIRING_CHECK": {
                "enabled": True,
                "configuration": {"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "400"},
            }
        }
    )

    # moto's and the seeded CA's device certificates are valid for a year: within 400 days.
    assert env.found(env.audit())["DEVICE_CERTIFICATE_EXPIRING_CHECK"] == set(fleet.certificates.values())
    configuration = env.iot.describe_account_audit_configuration()["auditCheckConfigurations"]
    assert configuration["DEVICE_CERTIFICATE_EXPIRING_CHECK"]["configuration"] == {
        "CERT_EXPIRATION_THRESHOLD_IN_DAYS": "400"
    }


def test_a_suppressed_resource_is_marked_counted_and_does_not_make_the_check_non_compliant(env: Env) -> None:
    fleet = env.seed("workshop")
    env.enable()
    shared = {"deviceCertificateId": fleet.certificates["SharedCertificate"]}
    env.iot.create_audit_suppression(
        checkName="DEVICE_CERTIFICATE_SHARED_CHECK", resourceIdentifier=shared, suppressIndefinitely=True
    )

    task_id = env.audit()

    detail = env.iot.describe_audit_task(taskId=task_id)["auditDetails"]["DEVICE_CERTIFICATE_SHARED_CHECK"]
    assert detail["checkRunStatus"] == "COMPLETED_COMPLIANT"
    assert (detail["nonCompliantResourcesCount"], detail["suppressedNonCompliantResourcesCount"]) == (0, 1)
    suppressed = env.findings(task_id, listSuppressedFindings=True)
    assert [(f["checkName"], f["isSuppressed"]) for f in suppressed] == [
        ("DEVICE_CERTIFICATE_SHARED_CHECK", True)
    ]
    assert all(not f["isSuppressed"] for f in env.findings(task_id, listSuppressedFindings=False))
    assert len(env.findings(task_id)) == len(env.findings(task_id, listSuppressedFindings=False)) + 1


def test_an_expired_suppression_no_longer_applies(env: Env) -> None:
    env.seed("workshop")
    env.enable()
    env.iot.create_audit_suppression(
        checkName="LOGGING_DISABLED_CHECK",
        resourceIdentifier={"account": ACCOUNT_ID},
        expirationDate=NOW + timedelta(days=1),
    )
    assert env.findings(env.audit(), checkName="LOGGING_DISABLED_CHECK")[0]["isSuppressed"] is True

    env.clock.advance(timedelta(days=2).total_seconds())

    assert env.findings(env.audit(), checkName="LOGGING_DISABLED_CHECK")[0]["isSuppressed"] is False


def test_audit_completion_is_published_to_the_configured_topic_in_the_documented_shape(env: Env) -> None:
    fleet = env.seed("workshop")
    topic, queue = env.notification_queue()
    env.enable(
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}}
    )

    task_id = env.audit()

    (message,) = env.received(queue)
    assert set(message) == NOTIFICATION_KEYS
    task = env.iot.describe_audit_task(taskId=task_id)
    assert message["accountId"] == ACCOUNT_ID
    assert (message["taskId"], message["taskStatus"], message["taskType"]) == (
        task_id,
        "COMPLETED",
        "ON_DEMAND_AUDIT_TASK",
    )
    assert message["taskStartTime"] == int(task["taskStartTime"].timestamp() * 1000)
    assert isinstance(message["auditDetails"], list)
    assert all(set(d) == DETAIL_KEYS for d in message["auditDetails"])
    non_compliant = {d["checkName"]: d["nonCompliantResourcesCount"] for d in message["auditDetails"]}
    assert non_compliant == {check: len(resources) for check, resources in fleet.expected.items()}
    assert message["nonCompliantChecksCount"] == 3
    assert message["compliantChecksCount"] == len(EVALUATED_CHECKS) - 3
    assert message["totalChecksCount"] == len(EVALUATED_CHECKS)
    assert (message["failedChecksCount"], message["canceledChecksCount"]) == (0, 0)


def test_no_notification_is_published_when_the_target_is_disabled(env: Env) -> None:
    env.seed("workshop")
    topic, queue = env.notification_queue()
    env.enable(
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": False}}
    )

    env.audit()

    assert env.received(queue) == []
    assert env.emulator.published == []


def test_a_scheduled_audit_run_on_demand_is_a_scheduled_audit_task(env: Env) -> None:
    env.seed("workshop")
    topic, queue = env.notification_queue()
    env.enable(
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}}
    )
    env.iot.create_scheduled_audit(
        scheduledAuditName="DailyFleetAudit", frequency="DAILY", targetCheckNames=["LOGGING_DISABLED_CHECK"]
    )

    task_id = env.emulator.run_scheduled_audit("DailyFleetAudit")

    task = env.iot.describe_audit_task(taskId=task_id)
    assert (task["taskType"], task["scheduledAuditName"]) == ("SCHEDULED_AUDIT_TASK", "DailyFleetAudit")
    (message,) = env.received(queue)
    assert (message["taskType"], message["scheduledAuditName"]) == ("SCHEDULED_AUDIT_TASK", "DailyFleetAudit")
    listed = env.iot.list_audit_tasks(
        startTime=NOW - timedelta(hours=1), endTime=NOW + timedelta(hours=1), taskType="SCHEDULED_AUDIT_TASK"
    )
    assert [t["taskId"] for t in listed["tasks"]] == [task_id]


def test_an_audit_stays_in_progress_until_its_time_has_passed(env: Env) -> None:
    env.seed("workshop")
    topic, queue = env.notification_queue()
    env.enable(
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}}
    )
    env.emulator.audit_seconds = 30

    task_id = env.audit()
    env.clock.advance(29)

    task = env.iot.describe_audit_task(taskId=task_id)
    assert task["taskStatus"] == "IN_PROGRESS"
    assert task["taskStatistics"]["inProgressChecks"] == len(EVALUATED_CHECKS)
    assert {d["checkRunStatus"] for d in task["auditDetails"].values()} == {"IN_PROGRESS"}
    assert env.findings(task_id) == []
    assert env.received(queue) == []

    env.clock.advance(1)

    assert env.iot.describe_audit_task(taskId=task_id)["taskStatus"] == "COMPLETED"
    assert len(env.findings(task_id)) == 3
    assert [m["taskId"] for m in env.received(queue)] == [task_id]


def test_advance_and_settle_complete_audits_without_an_api_call(env: Env) -> None:
    env.seed("workshop")
    env.enable()
    env.emulator.audit_seconds = 10
    first = env.audit()

    env.emulator.advance(10)
    second = env.audit()
    env.emulator.settle()

    assert [env.iot.describe_audit_task(taskId=t)["taskStatus"] for t in (first, second)] == ["COMPLETED"] * 2
    assert env.clock.now() == NOW + timedelta(seconds=20)


def test_settle_with_real_time_completes_audits_now(clients: Clients) -> None:
    with mock_aws(), DeviceDefenderEmulator(clock=SystemClock(), audit_seconds=3600) as emulator:
        clients.iot.update_account_audit_configuration(
            roleArn=ROLE, auditCheckConfigurations={"LOGGING_DISABLED_CHECK": {"enabled": True}}
        )
        task_id = clients.iot.start_on_demand_audit_task(targetCheckNames=["LOGGING_DISABLED_CHECK"])[
            "taskId"
        ]
        assert clients.iot.describe_audit_task(taskId=task_id)["taskStatus"] == "IN_PROGRESS"

        emulator.settle()

        assert clients.iot.describe_audit_task(taskId=task_id)["taskStatus"] == "COMPLETED"


def test_a_canceled_audit_reports_canceled_checks_and_no_findings(env: Env) -> None:
    env.seed("workshop")
    topic, queue = env.notification_queue()
    env.enable(
        auditNotificationTargetConfigurations={"SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}}
    )
    env.emulator.audit_seconds = 30
    task_id = env.audit()

    env.iot.cancel_audit_task(taskId=task_id)
    env.emulator.advance(60)

    task = env.iot.describe_audit_task(taskId=task_id)
    assert task["taskStatus"] == "CANCELED"
    assert task["taskStatistics"]["canceledChecks"] == len(EVALUATED_CHECKS)
    assert env.findings(task_id) == []
    (message,) = env.received(queue)
    assert (message["taskStatus"], message["canceledChecksCount"]) == ("CANCELED", len(EVALUATED_CHECKS))


def test_an_enabled_check_the_emulator_does_not_evaluate_completes_compliant_with_no_resources(
    env: Env,
) -> None:
    env.seed("all-checks")
    env.enable(("CA_CERTIFICATE_KEY_QUALITY_CHECK", "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK"))

    task_id = env.audit(("CA_CERTIFICATE_KEY_QUALITY_CHECK", "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK"))

    details = env.iot.describe_audit_task(taskId=task_id)["auditDetails"]
    assert {name: (d["checkRunStatus"], d["totalResourcesCount"]) for name, d in details.items()} == {
        "CA_CERTIFICATE_KEY_QUALITY_CHECK": ("COMPLETED_COMPLIANT", 0),
        "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK": ("COMPLETED_COMPLIANT", 0),
    }


@pytest.mark.parametrize(
    ("hours_ago", "found"),
    [(24, True), (1, False), (24 * 32, False)],
    ids=["a-day-ago", "within-the-last-two-hours", "before-the-31-day-look-back"],
)
def test_behaviour_checks_only_see_connections_in_their_look_back_window(
    env: Env, hours_ago: int, found: bool
) -> None:
    certificate = env.iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    connected = NOW - timedelta(hours=hours_ago)
    for client_id in ("sensor-a", "sensor-b"):
        env.emulator.record_connection(
            client_id, certificate, None, connected, connected + timedelta(minutes=30)
        )
    env.enable(("DEVICE_CERTIFICATE_SHARED_CHECK",))

    task_id = env.audit(("DEVICE_CERTIFICATE_SHARED_CHECK",))

    assert env.found(task_id)["DEVICE_CERTIFICATE_SHARED_CHECK"] == ({certificate} if found else set())


def test_a_scheduled_audit_looks_back_only_to_its_previous_run(env: Env) -> None:
    certificate = env.iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    connected = NOW - timedelta(hours=24)
    for client_id in ("sensor-a", "sensor-b"):
        env.emulator.record_connection(
            client_id, certificate, None, connected, connected + timedelta(hours=1)
        )
    env.enable(("DEVICE_CERTIFICATE_SHARED_CHECK",))
    env.iot.create_scheduled_audit(
        scheduledAuditName="Daily", frequency="DAILY", targetCheckNames=["DEVICE_CERTIFICATE_SHARED_CHECK"]
    )

    first = env.emulator.run_scheduled_audit("Daily")
    env.clock.advance(timedelta(days=1).total_seconds())
    second = env.emulator.run_scheduled_audit("Daily")

    assert env.found(first)["DEVICE_CERTIFICATE_SHARED_CHECK"] == {certificate}
    assert env.found(second)["DEVICE_CERTIFICATE_SHARED_CHECK"] == set()


def test_certificates_that_are_not_active_are_not_examined(env: Env) -> None:
    fleet = env.seed("shared-certificate")
    env.enable()
    env.iot.update_certificate(certificateId=fleet.certificates["SharedCertificate"], newStatus="INACTIVE")

    assert env.found(env.audit())["DEVICE_CERTIFICATE_SHARED_CHECK"] == set()


@pytest.mark.parametrize(
    ("options", "disabled"),
    [
        ({"defaultLogLevel": "INFO"}, False),
        ({"defaultLogLevel": "ERROR", "disableAllLogs": True}, True),
        ({"defaultLogLevel": "DISABLED"}, True),
        (None, True),
    ],
    ids=["info", "all-logs-disabled", "level-disabled", "never-set"],
)
def test_logging_is_disabled_unless_v2_logging_is_on(
    env: Env, options: dict[str, Any] | None, disabled: bool
) -> None:
    if options is not None:
        env.iot.set_v2_logging_options(roleArn=ROLE, **options)
    env.enable(("LOGGING_DISABLED_CHECK",))

    found = env.found(env.audit(("LOGGING_DISABLED_CHECK",)))["LOGGING_DISABLED_CHECK"]

    assert found == ({ACCOUNT_ID} if disabled else set())


ARN = f"arn:aws:iot:{REGION}:{ACCOUNT_ID}"


@pytest.mark.parametrize(
    ("statements", "broad"),
    [
        (
            [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
            ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"],
        ),
        (
            [{"Effect": "Allow", "Action": "*", "Resource": f"{ARN}:*"}],
            ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"],
        ),
        (
            [{"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [f"{ARN}:topic/*"]}],
            ["iot:Publish", "iot:Receive"],
        ),
        (
            [{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{ARN}:topicfilter/#"}],
            ["iot:Subscribe"],
        ),
        (
            [{"Effect": "Allow", "NotAction": "iot:Connect", "Resource": "*"}],
            ["iot:Publish", "iot:Subscribe", "iot:Receive"],
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{ARN}:client/${{iot:Connection.Thing.ThingName}}",
                }
            ],
            [],
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": f"{ARN}:topic/sensors/device-1/telemetry",
                }
            ],
            [],
        ),
        ([{"Effect": "Deny", "Action": "iot:*", "Resource": "*"}], []),
        ([{"Effect": "Allow", "Action": "iot:DescribeThing", "Resource": "*"}], []),
        ([], []),
    ],
    ids=[
        "iot-star-on-star",
        "star-on-account-wildcard",
        "publish-receive-on-any-topic",
        "subscribe-on-any-filter",
        "not-action",
        "client-by-policy-variable",
        "one-topic",
        "deny",
        "control-plane-only",
        "blank",
    ],
)
def test_policy_analysis_flags_data_plane_actions_on_broad_resources(
    statements: list[Any], broad: list[str]
) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})

    assert broad_data_plane_actions(document) == broad


def test_only_the_default_policy_version_is_analysed(env: Env) -> None:
    env.seed("workshop")
    env.enable(("IOT_POLICY_OVERLY_PERMISSIVE_CHECK",))
    narrow = {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/SensorDevice01"}
    env.iot.create_policy_version(
        policyName="DDWorkshopAllowAllPolicy",
        policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [narrow]}),
        setAsDefault=True,
    )

    assert env.findings(env.audit(("IOT_POLICY_OVERLY_PERMISSIVE_CHECK",))) == []


def test_findings_can_be_listed_by_time_range_and_resource(env: Env) -> None:
    fleet = env.seed("workshop")
    env.enable()
    first = env.audit()
    env.clock.advance(3600)
    second = env.audit()
    shared = {"deviceCertificateId": fleet.certificates["SharedCertificate"]}

    in_range = env.iot.list_audit_findings(
        startTime=NOW - timedelta(minutes=1), endTime=NOW + timedelta(minutes=1)
    )
    for_resource = env.iot.list_audit_findings(
        startTime=NOW - timedelta(minutes=1), endTime=NOW + timedelta(hours=2), resourceIdentifier=shared
    )

    assert {f["taskId"] for f in in_range["findings"]} == {first}
    assert [(f["taskId"], f["checkName"]) for f in for_resource["findings"]] == [
        (first, "DEVICE_CERTIFICATE_SHARED_CHECK"),
        (second, "DEVICE_CERTIFICATE_SHARED_CHECK"),
    ]


def test_related_resources_are_capped_in_findings_and_paged_in_full(env: Env) -> None:
    certificate = env.iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    for index in range(12):
        env.emulator.record_connection(f"sensor-{index:02}", certificate, None, NOW - timedelta(hours=24))
    env.enable(("DEVICE_CERTIFICATE_SHARED_CHECK",))
    (finding,) = env.findings(env.audit(("DEVICE_CERTIFICATE_SHARED_CHECK",)))

    described = env.iot.describe_audit_finding(findingId=finding["findingId"])["finding"]
    pages = env.iot.get_paginator("list_related_resources_for_audit_finding").paginate(
        findingId=finding["findingId"], PaginationConfig={"PageSize": 5}
    )
    related = [r["resourceIdentifier"]["clientId"] for page in pages for r in page["relatedResources"]]

    assert len(finding["relatedResources"]) == len(described["relatedResources"]) == 10
    assert related == [f"sensor-{index:02}" for index in range(12)]


def test_a_subscriber_on_another_thread_can_read_the_findings_when_the_notification_arrives(
    clients: Clients,
) -> None:
    # SNS delivery runs the subscribed handler, which lists the audit's findings; the emulator must
    # not hold its lock while delivering, or a handler on another thread (a workflow) would block.
    seen: list[int] = []

    def deliver(topic_arn: str, message: str) -> None:
        task_id = json.loads(message)["taskId"]
        reader = threading.Thread(
            target=lambda: seen.append(len(clients.iot.list_audit_findings(taskId=task_id)["findings"])),
            daemon=True,
        )
        reader.start()
        reader.join(timeout=10)

    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:audit-notifications"
    with (
        mock_aws(),
        DeviceDefenderEmulator(clock=ManualClock(NOW), audit_seconds=0, publisher=deliver) as emulator,
    ):
        env = Env(emulator, ManualClock(NOW), clients.iot, clients.sns, clients.sqs)
        env.seed("workshop")
        env.enable(
            auditNotificationTargetConfigurations={
                "SNS": {"targetArn": topic, "roleArn": ROLE, "enabled": True}
            }
        )

        env.audit()

    assert seen == [3]
