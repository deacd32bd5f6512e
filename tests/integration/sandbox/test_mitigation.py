"""Audit mitigation actions tasks: each action type changes moto's IoT state as Device Defender does.

Also the task's targets (audit, finding ids, reason-code filter), per-finding executions in action
order, failures that skip the rest of a finding's actions, suppressed findings, progress over time
and cancellation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.device_defender import DeviceDefenderEmulator, ManualClock
from sandbox.fleet import EVALUATED_CHECKS, SeededFleet, seed_fleet
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.sandbox.emulator_support import (
    Clients,
    audit_findings,
    make_clients,
    received,
    subscribed_queue,
)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/mitigation"
NOW = datetime.now(UTC).replace(microsecond=0)
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
POLICY_CHECK = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
FINDING_MESSAGE_KEYS = {
    "findingId",
    "findingTime",
    "severity",
    "taskStartTime",
    "nonCompliantResource",
    "taskId",
    "checkName",
    "reasonForNonComplianceCode",
    "reasonForNonCompliance",
}


@dataclass
class Env:
    emulator: DeviceDefenderEmulator
    clock: ManualClock
    iot: Any
    sns: Any
    sqs: Any
    fleet: SeededFleet | None = None
    reports_topic: str = ""
    reports_queue: str = ""

    def seed_and_audit(self, scenario: str) -> str:
        self.fleet = seed_fleet(scenario, emulator=self.emulator, iot=self.iot)
        self.iot.update_account_audit_configuration(
            roleArn=ROLE, auditCheckConfigurations={c: {"enabled": True} for c in EVALUATED_CHECKS}
        )
        task_id: str = self.iot.start_on_demand_audit_task(targetCheckNames=list(EVALUATED_CHECKS))["taskId"]
        return task_id

    def findings(self, audit_task_id: str, check: str | None = None) -> list[dict[str, Any]]:
        return audit_findings(self.iot, audit_task_id, **({"checkName": check} if check else {}))

    def mitigate(self, task_id: str, target: dict[str, Any], mapping: dict[str, list[str]]) -> dict[str, Any]:
        self.iot.start_audit_mitigation_actions_task(
            taskId=task_id,
            target=target,
            auditCheckToActionsMapping=mapping,
            clientRequestToken=f"{task_id}-token",
        )
        task: dict[str, Any] = self.iot.describe_audit_mitigation_actions_task(taskId=task_id)
        return task

    def executions(self, task_id: str, finding_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.iot.list_audit_mitigation_actions_executions(
            taskId=task_id, findingId=finding_id
        )["actionsExecutions"]
        return result

    def certificate_status(self, certificate_id: str) -> str:
        status: str = self.iot.describe_certificate(certificateId=certificate_id)["certificateDescription"][
            "status"
        ]
        return status

    def received(self) -> list[dict[str, Any]]:
        return received(self.sqs, self.reports_queue)


ACTIONS: dict[str, dict[str, Any]] = {
    "DeactivateDeviceCertificate": {"updateDeviceCertificateParams": {"action": "DEACTIVATE"}},
    "DeactivateCaCertificate": {"updateCACertificateParams": {"action": "DEACTIVATE"}},
    "QuarantineThings": {"addThingsToThingGroupParams": {"thingGroupNames": ["Quarantine"]}},
    "ReplacePolicyWithBlank": {"replaceDefaultPolicyVersionParams": {"templateName": "BLANK_POLICY"}},
    "EnableErrorLogging": {"enableIoTLoggingParams": {"roleArnForLogging": ROLE, "logLevel": "ERROR"}},
}


@pytest.fixture(scope="module")
def clients() -> Clients:
    with mock_aws():
        return make_clients()


@pytest.fixture
def env(clients: Clients) -> Iterator[Env]:
    clock = ManualClock(NOW)
    with (
        mock_aws(),
        DeviceDefenderEmulator(clock=clock, audit_seconds=0, mitigation_task_seconds=0, seed=3) as dd,
    ):
        iot, sns, sqs = clients.iot, clients.sns, clients.sqs
        topic, queue = subscribed_queue(sns, sqs, "remediation-reports")
        iot.create_thing_group(thingGroupName="Quarantine")
        for name, params in {
            **ACTIONS,
            "PublishFinding": {"publishFindingToSnsParams": {"topicArn": topic}},
        }.items():
            iot.create_mitigation_action(actionName=name, roleArn=ROLE, actionParams=params)
        yield Env(dd, clock, iot, sns, sqs, reports_topic=topic, reports_queue=queue)


def _statistics(task: dict[str, Any], check: str) -> tuple[int, int, int, int, int]:
    s = task["taskStatistics"][check]
    return (
        s["totalFindingsCount"],
        s["succeededFindingsCount"],
        s["failedFindingsCount"],
        s["skippedFindingsCount"],
        s["canceledFindingsCount"],
    )


def test_update_device_certificate_deactivates_the_findings_certificate_only(env: Env) -> None:
    audit = env.seed_and_audit("shared-certificate")
    assert env.fleet is not None
    shared = env.fleet.certificates["SharedCertificate"]

    task = env.mitigate("deactivate", {"auditTaskId": audit}, {SHARED: ["DeactivateDeviceCertificate"]})

    assert task["taskStatus"] == "COMPLETED"
    assert _statistics(task, SHARED) == (1, 1, 0, 0, 0)
    assert env.certificate_status(shared) == "INACTIVE"
    others = [c for label, c in env.fleet.certificates.items() if label != "SharedCertificate"]
    assert [env.certificate_status(c) for c in others] == ["ACTIVE"] * len(others)
    reaudit = env.iot.start_on_demand_audit_task(targetCheckNames=[SHARED])["taskId"]
    assert env.findings(reaudit) == []


def test_update_ca_certificate_deactivates_the_ca(env: Env) -> None:
    audit = env.seed_and_audit("revoked-ca-certificate")
    assert env.fleet is not None
    check = "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"

    task = env.mitigate("deactivate-ca", {"auditTaskId": audit}, {check: ["DeactivateCaCertificate"]})

    status = {
        name: env.iot.describe_ca_certificate(certificateId=ca)["certificateDescription"]["status"]
        for name, ca in env.fleet.ca_certificates.items()
    }
    assert task["taskStatus"] == "COMPLETED"
    assert status == {"HealthyFleetCA": "ACTIVE", "RevokedIntermediateCA": "INACTIVE"}


def test_add_things_to_thing_group_moves_every_thing_attached_to_the_certificate(env: Env) -> None:
    audit = env.seed_and_audit("shared-certificate")

    task = env.mitigate("quarantine", {"auditTaskId": audit}, {SHARED: ["QuarantineThings"]})

    things = env.iot.list_things_in_thing_group(thingGroupName="Quarantine")["things"]
    assert task["taskStatus"] == "COMPLETED"
    assert sorted(things) == ["SensorDevice01", "SensorDevice02"]


def test_replace_default_policy_version_makes_a_blank_version_the_default(env: Env) -> None:
    audit = env.seed_and_audit("overly-permissive-policy")

    task = env.mitigate("blank-policy", {"auditTaskId": audit}, {POLICY_CHECK: ["ReplacePolicyWithBlank"]})

    policy = env.iot.get_policy(policyName="TelemetryAnyTopicPolicy")
    versions = env.iot.list_policy_versions(policyName="TelemetryAnyTopicPolicy")["policyVersions"]
    assert task["taskStatus"] == "COMPLETED"
    assert policy["defaultVersionId"] == "2"
    assert json.loads(policy["policyDocument"])["Statement"] == []
    assert len(versions) == 2
    reaudit = env.iot.start_on_demand_audit_task(targetCheckNames=[POLICY_CHECK])["taskId"]
    assert env.findings(reaudit) == []


def test_replace_default_policy_version_fails_on_a_policy_with_five_versions_and_skips_the_rest(
    env: Env,
) -> None:
    audit = env.seed_and_audit("overly-permissive-policy")
    for index in range(4):
        env.iot.create_policy_version(
            policyName="TelemetryAnyTopicPolicy",
            policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [], "Sid": str(index)}),
            setAsDefault=False,
        )
    (finding,) = env.findings(audit, POLICY_CHECK)

    task = env.mitigate(
        "blank-policy", {"auditTaskId": audit}, {POLICY_CHECK: ["ReplacePolicyWithBlank", "PublishFinding"]}
    )

    assert task["taskStatus"] == "FAILED"
    assert _statistics(task, POLICY_CHECK) == (1, 0, 1, 0, 0)
    executions = env.executions("blank-policy", finding["findingId"])
    assert [(e["actionName"], e["status"]) for e in executions] == [
        ("ReplacePolicyWithBlank", "FAILED"),
        ("PublishFinding", "SKIPPED"),
    ]
    assert executions[0]["errorCode"] == "VersionsLimitExceededException"
    assert env.iot.get_policy(policyName="TelemetryAnyTopicPolicy")["defaultVersionId"] == "1"
    assert env.received() == []


def test_enable_iot_logging_sets_v2_logging_at_the_actions_level(env: Env) -> None:
    audit = env.seed_and_audit("workshop")

    task = env.mitigate("logging", {"auditTaskId": audit}, {"LOGGING_DISABLED_CHECK": ["EnableErrorLogging"]})

    options = env.iot.get_v2_logging_options()
    assert task["taskStatus"] == "COMPLETED"
    assert (options["roleArn"], options["defaultLogLevel"], options["disableAllLogs"]) == (
        ROLE,
        "ERROR",
        False,
    )
    reaudit = env.iot.start_on_demand_audit_task(targetCheckNames=["LOGGING_DISABLED_CHECK"])["taskId"]
    assert env.findings(reaudit) == []


def test_publish_finding_to_sns_sends_the_observed_per_finding_message(env: Env) -> None:
    audit = env.seed_and_audit("workshop")
    (finding,) = env.findings(audit, POLICY_CHECK)

    env.mitigate("publish", {"findingIds": [finding["findingId"]]}, {POLICY_CHECK: ["PublishFinding"]})

    (message,) = env.received()
    assert set(message) == FINDING_MESSAGE_KEYS
    assert message["taskId"] == audit
    assert message["findingId"] == finding["findingId"]
    assert message["findingTime"] == int(finding["findingTime"].timestamp() * 1000)
    assert message["taskStartTime"] == int(finding["taskStartTime"].timestamp() * 1000)
    assert message["nonCompliantResource"] == {
        "resourceType": "IOT_POLICY",
        "resourceIdentifier": {
            "policyVersionIdentifier": {"policyName": "DDWorkshopAllowAllPolicy", "policyVersionId": "1"}
        },
    }
    assert (message["checkName"], message["severity"], message["reasonForNonComplianceCode"]) == (
        POLICY_CHECK,
        "CRITICAL",
        "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
    )
    assert message["reasonForNonCompliance"] == finding["reasonForNonCompliance"]


@pytest.mark.parametrize(
    ("action", "params", "error_code"),
    [
        (
            "PublishToMissingTopic",
            {"publishFindingToSnsParams": {"topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:no-such-topic"}},
            "NotFound",
        ),
        (
            "QuarantineInMissingGroup",
            {"addThingsToThingGroupParams": {"thingGroupNames": ["NoSuchGroup"]}},
            "ResourceNotFoundException",
        ),
    ],
)
def test_an_action_that_cannot_be_carried_out_fails_the_finding_and_the_task(
    env: Env, action: str, params: dict[str, Any], error_code: str
) -> None:
    env.iot.create_mitigation_action(actionName=action, roleArn=ROLE, actionParams=params)
    audit = env.seed_and_audit("shared-certificate")
    (finding,) = env.findings(audit, SHARED)

    task = env.mitigate("failing", {"auditTaskId": audit}, {SHARED: [action, "DeactivateDeviceCertificate"]})

    assert task["taskStatus"] == "FAILED"
    executions = env.executions("failing", finding["findingId"])
    assert [(e["status"], e.get("errorCode")) for e in executions] == [
        ("FAILED", error_code),
        ("SKIPPED", None),
    ]
    assert env.certificate_status(
        finding["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateId"]
    ) == ("ACTIVE")


def test_a_thing_already_in_ten_groups_cannot_be_quarantined(env: Env) -> None:
    audit = env.seed_and_audit("shared-certificate")
    for index in range(9):
        env.iot.create_thing_group(thingGroupName=f"Group{index}")
        env.iot.add_thing_to_thing_group(thingGroupName=f"Group{index}", thingName="SensorDevice01")

    task = env.mitigate("quarantine", {"auditTaskId": audit}, {SHARED: ["QuarantineThings"]})

    assert task["taskStatus"] == "FAILED"
    assert "SensorDevice01" not in env.iot.list_things_in_thing_group(thingGroupName="Quarantine")["things"]


def test_only_the_listed_findings_are_acted_on(env: Env) -> None:
    audit = env.seed_and_audit("expiring-device-certificate")
    chosen, other = env.findings(audit, EXPIRING)

    task = env.mitigate(
        "one-finding", {"findingIds": [chosen["findingId"]]}, {EXPIRING: ["DeactivateDeviceCertificate"]}
    )

    assert _statistics(task, EXPIRING) == (1, 1, 0, 0, 0)
    ids = [f["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateId"] for f in (chosen, other)]
    assert [env.certificate_status(c) for c in ids] == ["INACTIVE", "ACTIVE"]
    assert env.executions("one-finding", other["findingId"]) == []


def test_the_reason_code_filter_selects_findings_and_skips_the_others(env: Env) -> None:
    audit = env.seed_and_audit("all-checks")
    by_code = {f["reasonForNonComplianceCode"]: f for f in env.findings(audit, EXPIRING)}

    task = env.mitigate(
        "expired-only",
        {"auditTaskId": audit, "auditCheckToReasonCodeFilter": {EXPIRING: ["CERTIFICATE_PAST_EXPIRATION"]}},
        {EXPIRING: ["DeactivateDeviceCertificate"], SHARED: ["DeactivateDeviceCertificate"]},
    )

    def certificate(code: str) -> str:
        return str(by_code[code]["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateId"])

    assert _statistics(task, EXPIRING) == (2, 1, 0, 1, 0)
    assert _statistics(task, SHARED) == (1, 0, 0, 1, 0)
    assert env.certificate_status(certificate("CERTIFICATE_PAST_EXPIRATION")) == "INACTIVE"
    assert env.certificate_status(certificate("CERTIFICATE_APPROACHING_EXPIRATION")) == "ACTIVE"


def test_only_checks_in_the_actions_mapping_are_acted_on(env: Env) -> None:
    audit = env.seed_and_audit("all-checks")
    assert env.fleet is not None
    (revoked,) = env.fleet.expected["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]

    task = env.mitigate(
        "revoked-only",
        {"auditTaskId": audit},
        {"REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": ["DeactivateDeviceCertificate"]},
    )

    assert set(task["taskStatistics"]) == {"REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"}
    inactive = {c for c in env.fleet.certificates.values() if env.certificate_status(c) == "INACTIVE"}
    assert inactive == {revoked}


def test_suppressed_findings_are_skipped(env: Env) -> None:
    fleet = seed_fleet("workshop", emulator=env.emulator, iot=env.iot)
    shared = fleet.certificates["SharedCertificate"]
    env.iot.create_audit_suppression(
        checkName=SHARED, resourceIdentifier={"deviceCertificateId": shared}, suppressIndefinitely=True
    )
    env.iot.update_account_audit_configuration(
        roleArn=ROLE, auditCheckConfigurations={SHARED: {"enabled": True}}
    )
    audit = env.iot.start_on_demand_audit_task(targetCheckNames=[SHARED])["taskId"]
    (finding,) = env.findings(audit)

    task = env.mitigate("suppressed", {"auditTaskId": audit}, {SHARED: ["DeactivateDeviceCertificate"]})

    assert finding["isSuppressed"] is True
    assert task["taskStatus"] == "COMPLETED"
    assert _statistics(task, SHARED) == (1, 0, 0, 1, 0)
    assert env.certificate_status(shared) == "ACTIVE"


def test_actions_run_in_order_and_each_has_an_execution_record(env: Env) -> None:
    audit = env.seed_and_audit("shared-certificate")
    (finding,) = env.findings(audit, SHARED)
    mapping = {SHARED: ["QuarantineThings", "DeactivateDeviceCertificate", "PublishFinding"]}

    task = env.mitigate("ordered", {"auditTaskId": audit}, mapping)

    executions = env.executions("ordered", finding["findingId"])
    assert [(e["actionName"], e["status"]) for e in executions] == [
        (name, "COMPLETED") for name in mapping[SHARED]
    ]
    assert all(e["taskId"] == "ordered" and e["findingId"] == finding["findingId"] for e in executions)
    assert [d["name"] for d in task["actionsDefinition"]] == mapping[SHARED]
    assert task["auditCheckToActionsMapping"] == mapping
    assert task["target"] == {"auditTaskId": audit}
    assert len(env.received()) == 1


def test_a_task_progresses_over_time_and_is_polled_to_completion(env: Env) -> None:
    audit = env.seed_and_audit("expiring-device-certificate")
    first, second = env.findings(audit, EXPIRING)
    env.emulator.mitigation_task_seconds = 10

    task = env.mitigate("slow", {"auditTaskId": audit}, {EXPIRING: ["DeactivateDeviceCertificate"]})
    assert task["taskStatus"] == "IN_PROGRESS"
    assert "endTime" not in task
    assert env.executions("slow", first["findingId"])[0]["status"] == "PENDING"

    env.clock.advance(5)
    halfway = env.iot.describe_audit_mitigation_actions_task(taskId="slow")
    assert halfway["taskStatus"] == "IN_PROGRESS"
    assert [env.executions("slow", f["findingId"])[0]["status"] for f in (first, second)] == [
        "COMPLETED",
        "PENDING",
    ]

    env.clock.advance(5)
    done = env.iot.describe_audit_mitigation_actions_task(taskId="slow")
    assert done["taskStatus"] == "COMPLETED"
    assert done["endTime"] - done["startTime"] == timedelta(seconds=10)
    assert _statistics(done, EXPIRING) == (2, 2, 0, 0, 0)


def test_canceling_stops_the_remaining_findings_without_rolling_back(env: Env) -> None:
    audit = env.seed_and_audit("expiring-device-certificate")
    first, second = env.findings(audit, EXPIRING)
    env.emulator.mitigation_task_seconds = 10
    env.mitigate("cancel-me", {"auditTaskId": audit}, {EXPIRING: ["DeactivateDeviceCertificate"]})
    env.clock.advance(5)

    env.iot.cancel_audit_mitigation_actions_task(taskId="cancel-me")
    env.emulator.advance(60)

    task = env.iot.describe_audit_mitigation_actions_task(taskId="cancel-me")
    assert task["taskStatus"] == "CANCELED"
    assert _statistics(task, EXPIRING) == (2, 1, 0, 0, 1)
    ids = [f["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateId"] for f in (first, second)]
    assert [env.certificate_status(c) for c in ids] == ["INACTIVE", "ACTIVE"]
    assert env.executions("cancel-me", second["findingId"])[0]["status"] == "CANCELED"
    with pytest.raises(ClientError) as raised:
        env.iot.cancel_audit_mitigation_actions_task(taskId="cancel-me")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def test_tasks_can_be_listed_by_audit_finding_and_status(env: Env) -> None:
    audit = env.seed_and_audit("workshop")
    (policy,) = env.findings(audit, POLICY_CHECK)
    env.mitigate("by-audit", {"auditTaskId": audit}, {"LOGGING_DISABLED_CHECK": ["EnableErrorLogging"]})
    env.emulator.mitigation_task_seconds = 60
    env.mitigate("by-finding", {"findingIds": [policy["findingId"]]}, {POLICY_CHECK: ["PublishFinding"]})
    window = {"startTime": NOW - timedelta(hours=1), "endTime": NOW + timedelta(hours=1)}

    def listed(**filters: Any) -> list[str]:
        return [
            t["taskId"] for t in env.iot.list_audit_mitigation_actions_tasks(**window, **filters)["tasks"]
        ]

    assert listed() == ["by-audit", "by-finding"]
    assert listed(auditTaskId=audit) == ["by-audit", "by-finding"]
    assert listed(findingId=policy["findingId"]) == ["by-audit", "by-finding"]
    assert listed(taskStatus="IN_PROGRESS") == ["by-finding"]
    assert listed(taskStatus="COMPLETED") == ["by-audit"]
