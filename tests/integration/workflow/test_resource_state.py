"""Before a task starts, the state its actions will change is recorded (RemediationTable, `PRESTATE#`);
after it ends, each recorded finding's resource is read back and verified, or reported not verified."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.iot.models import iot_backends

from audit_remediator.models.resource_state import PAGE_SIZE
from sandbox import ExecutionResult
from sandbox.workflow import Workflow, audit_plan, events_of, task

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
REVOKED_CA = "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"
POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"


def records(wf: Workflow, audit_task_id: str) -> dict[str, dict[str, Any]]:
    """The audit's pre-state records by finding id, JSON attributes decoded."""
    table = wf.stack.physical_ids["RemediationTable"]
    with wf.sb.calls.pause():
        pages = (
            wf.sb.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"PRESTATE#{audit_task_id}"}},
            )
        )
        items = [item for page in pages for item in page["Items"]]
    decoded = {}
    for item in items:
        plain = {key: next(iter(value.values())) for key, value in item.items()}
        for key in ("before", "observed", "reasons", "resourceIdentifier"):
            if key in plain:
                plain[key] = json.loads(plain[key])
        decoded[plain["findingId"]] = plain
    return decoded


def only_outcome(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    outcome: dict[str, Any]
    [outcome] = result.output_json["tasks"]
    return outcome


def iot(wf: Workflow) -> Any:
    return wf.sb.client("iot")


# --- one case per action type: the resource, and what IoT says of it before the task -------------------


def device_certificate(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    device = wf.device("PreStateDeactivated")
    with wf.sb.calls.pause():
        status = iot(wf).describe_certificate(certificateId=device["deviceCertificateId"])
    before = {
        "certificate": {
            "id": device["deviceCertificateId"],
            "status": status["certificateDescription"]["status"],
        }
    }
    return {SHARED: [device]}, before


def quarantined_device(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    device = wf.device("PreStateQuarantined")
    with wf.sb.calls.pause():
        iot(wf).create_thing_group(thingGroupName="prestate-sensors")
        iot(wf).add_thing_to_thing_group(thingGroupName="prestate-sensors", thingName="PreStateQuarantined")
        groups = iot(wf).list_thing_groups_for_thing(thingName="PreStateQuarantined")["thingGroups"]
        status = iot(wf).describe_certificate(certificateId=device["deviceCertificateId"])
    before = {
        "certificate": {
            "id": device["deviceCertificateId"],
            "status": status["certificateDescription"]["status"],
        },
        "certificateId": device["deviceCertificateId"],
        "things": {"PreStateQuarantined": [group["groupName"] for group in groups]},
    }
    return {SHARED: [device]}, before


def ca_certificate(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prestate-ca")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    with wf.sb.calls.pause():
        ca = iot(wf).register_ca_certificate(caCertificate=pem, setAsActive=True)["certificateId"]
        status = iot(wf).describe_ca_certificate(certificateId=ca)["certificateDescription"]["status"]
    return {REVOKED_CA: [{"caCertificateId": ca}]}, {"caCertificate": {"id": ca, "status": status}}


def permissive_policy(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with wf.sb.calls.pause():
        iot(wf).create_policy(policyName="prestate-permissive", policyDocument=json.dumps(document))
        default = iot(wf).get_policy(policyName="prestate-permissive")["defaultVersionId"]
    identifier = {
        "policyVersionIdentifier": {"policyName": "prestate-permissive", "policyVersionId": default}
    }
    return {POLICY: [identifier]}, {"policy": {"name": "prestate-permissive", "defaultVersionId": default}}


def disabled_logging(wf: Workflow) -> tuple[dict[str, Any], dict[str, Any]]:
    role = f"arn:aws:iam::{wf.sb.account_id}:role/someone-elses-logging-role"
    with wf.sb.calls.pause():
        iot(wf).set_v2_logging_options(roleArn=role, defaultLogLevel="WARN", disableAllLogs=True)
        options = iot(wf).get_v2_logging_options()
    before = {key: options[key] for key in ("roleArn", "defaultLogLevel", "disableAllLogs")}
    return {LOGGING: [{"account": wf.sb.account_id}]}, {"logging": before}


CASES: dict[str, tuple[Callable[[Workflow], tuple[dict[str, Any], dict[str, Any]]], list[str]]] = {
    "UPDATE_DEVICE_CERTIFICATE": (device_certificate, ["DeactivateDeviceCertificateAction"]),
    "ADD_THINGS_TO_THING_GROUP": (
        quarantined_device,
        ["QuarantineThingsAction", "DeactivateDeviceCertificateAction"],
    ),
    "UPDATE_CA_CERTIFICATE": (ca_certificate, ["DeactivateCaCertificateAction"]),
    "REPLACE_DEFAULT_POLICY_VERSION": (permissive_policy, ["ReplacePolicyWithBlankAction"]),
    "ENABLE_IOT_LOGGING": (disabled_logging, ["EnableErrorLoggingAction"]),
}


@pytest.mark.parametrize("action_type", sorted(CASES))
def test_each_action_type_records_exactly_what_iot_held_before_and_verifies_after(
    wf: Workflow, action_type: str
) -> None:
    # Given a resource in a known state, read from IoT itself before anything runs
    seed, before = CASES[action_type][0](wf)
    audit = wf.seed_audit(seed)
    [check] = seed
    planned = task(
        {"findingIds": audit.ids(check)}, {check: [wf.action(name) for name in CASES[action_type][1]]}
    )

    # When the workflow runs the task
    result = wf.run(audit_plan(audit.task_id, planned))

    # Then the record holds exactly that state, written before the start, and the result is verified
    outcome = only_outcome(result)
    assert outcome["status"] == "COMPLETED", outcome
    [finding_id] = audit.ids(check)
    record = records(wf, audit.task_id)[finding_id]
    assert record["before"] == before
    assert (record["auditTaskId"], record["taskId"], record["findingId"]) == (
        audit.task_id,
        planned["taskId"],
        finding_id,
    )
    assert record["verification"] == "verified", record["reasons"]
    assert outcome["verification"]["verified"] == 1
    assert result.output_json["result"] == "full-success"
    first_start = next(
        i for i, c in enumerate(wf.sb.calls.of("iot")) if c.operation == "StartAuditMitigationActionsTask"
    )
    reads = [c.operation for c in wf.sb.calls.of("iot")[:first_start]]
    assert "DescribeMitigationAction" in reads


def quarantine_and_deactivate(wf: Workflow, device_name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    audit = wf.seed_audit({SHARED: [wf.device(device_name)]})
    planned = task(
        {"findingIds": audit.ids(SHARED)},
        {SHARED: [wf.action("QuarantineThingsAction"), wf.action("DeactivateDeviceCertificateAction")]},
    )
    return audit.ids(SHARED)[0], audit_plan(audit.task_id, planned), planned


def test_a_quarantine_group_without_its_deny_all_policy_is_not_verified(wf: Workflow) -> None:
    # Given the deny-all policy is detached from the quarantine group while the task runs (after the guard
    # attached it: someone, or a stack update, takes it off)
    finding_id, plan, _ = quarantine_and_deactivate(wf, "PolicyLostSensor")
    group_arn = iot(wf).describe_thing_group(thingGroupName=wf.stack.physical_ids["QuarantineThingGroup"])[
        "thingGroupArn"
    ]
    policy = wf.stack.physical_ids["QuarantinePolicy"]
    backend = iot_backends[wf.sb.account_id][wf.sb.region]

    def detach_once(_params: dict[str, Any]) -> bool:
        if policy in [p.name for p in backend.list_attached_policies(group_arn)]:
            backend.detach_policy(policy, group_arn)
        return True

    wf.sb.faults.add("iot", "DescribeAuditMitigationActionsTask", delay=0.001, times=1, when=detach_once)

    # When the task runs to its end
    result = wf.run(plan)

    # Then IoT counts the finding as succeeded, but it is not verified, and the run is not full-success
    outcome = only_outcome(result)
    assert outcome["statistics"][SHARED]["succeeded"] == 1
    verification = outcome["verification"]
    assert (verification["verified"], verification["notVerified"], verification["succeededNotVerified"]) == (
        0,
        1,
        1,
    )
    [listed] = verification["notVerifiedFindings"]
    assert listed["findingId"] == finding_id
    assert listed["iotStatus"] == "SUCCEEDED"
    assert any("does not have the deny-all policy" in reason for reason in listed["reasons"])
    record = records(wf, plan["auditTaskId"])[finding_id]
    assert record["verification"] == "not-verified"
    assert result.output_json["result"] == "partial"
    assert result.output_json["verification"]["succeededNotVerified"] == 1


def test_a_certificate_iot_counts_as_deactivated_but_still_active_is_not_verified(wf: Workflow) -> None:
    # Given IoT reports the deactivation COMPLETED while the certificate stays ACTIVE (fault-injected)
    finding_id, plan, _ = quarantine_and_deactivate(wf, "StillActiveSensor")
    wf.sb.emulator.ineffective_action_types.add("UPDATE_DEVICE_CERTIFICATE")
    try:
        result = wf.run(plan)
    finally:
        wf.sb.emulator.ineffective_action_types.clear()

    # Then the finding is reported succeeded-but-not-verified with what was observed, never as contained
    outcome = only_outcome(result)
    assert outcome["statistics"][SHARED]["succeeded"] == 1
    assert outcome["verification"]["succeededNotVerified"] == 1
    record = records(wf, plan["auditTaskId"])[finding_id]
    assert record["verification"] == "not-verified"
    assert record["iotStatus"] == "SUCCEEDED"
    assert record["observed"]["certificate"]["status"] == "ACTIVE"
    assert any("not INACTIVE" in reason for reason in record["reasons"])
    # the thing is in the group, but a device using another client id still connects with the active certificate
    assert any(reason.startswith("not contained") for reason in record["reasons"])
    assert result.output_json["result"] == "partial"


def test_a_quarantine_alone_on_a_shared_association_is_reported_not_contained(wf: Workflow) -> None:
    # Given a task that only moves the thing (its certificate stays ACTIVE, held non-exclusively)
    audit = wf.seed_audit({SHARED: [wf.device("QuarantineOnlySensor")]})
    planned = task({"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]})

    result = wf.run(audit_plan(audit.task_id, planned))

    # Then the thing is in the group with its policy, yet the finding is not verified: not contained, and why
    record = records(wf, audit.task_id)[audit.ids(SHARED)[0]]
    assert (
        wf.stack.physical_ids["QuarantineThingGroup"] in record["observed"]["things"]["QuarantineOnlySensor"]
    )
    [reason] = record["reasons"]
    assert reason.startswith("not contained: certificate")
    assert "client id" in reason
    assert only_outcome(result)["verification"]["notVerified"] == 1


def test_when_the_pre_state_cannot_be_read_the_task_does_not_start(wf: Workflow) -> None:
    # Given IoT fails every read of the certificate's status
    _, plan, planned = quarantine_and_deactivate(wf, "UnreadableSensor")
    wf.sb.faults.add("iot", "DescribeCertificate", error="InternalFailureException", times=None)

    result = wf.run(plan)

    # Then nothing was started, the outcome says why, and the certificate and thing are untouched
    outcome = only_outcome(result)
    assert outcome["status"] == "PRESTATE_FAILED"
    assert "could not be recorded" in outcome["reason"]
    assert "InternalFailureException" in outcome["cause"]
    assert not [c for c in wf.sb.calls.of("iot") if c.operation == "StartAuditMitigationActionsTask"]
    assert planned["taskId"] not in wf.mitigation_tasks()
    with wf.sb.calls.pause():
        groups = iot(wf).list_thing_groups_for_thing(thingName="UnreadableSensor")["thingGroups"]
    assert groups == []
    assert records(wf, plan["auditTaskId"]) == {}
    assert result.output_json["result"] == "failed"
    assert wf.history(plan["auditTaskId"])[f"TASK#{planned['taskId']}"]["status"] == "PRESTATE_FAILED"


def test_an_audit_wide_target_is_recorded_and_verified_page_by_page(wf: Workflow) -> None:
    # Given an audit with more findings of one check than one page holds
    findings = PAGE_SIZE + 10
    audit = wf.seed_audit({SHARED: [{"deviceCertificateId": f"{n:064x}"} for n in range(findings)]})
    planned = task(
        {
            "auditTaskId": audit.task_id,
            "auditCheckToReasonCodeFilter": {SHARED: ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"]},
        },
        {SHARED: [wf.action("DeactivateDeviceCertificateAction")]},
    )

    result = wf.run(audit_plan(audit.task_id, planned), timeout=600)

    # Then every finding has one record, made in two pages, and every one was checked in two pages
    outcome = only_outcome(result)
    assert len(records(wf, audit.task_id)) == findings
    entered = [e["stateEnteredEventDetails"]["name"] for e in events_of(result, "TaskStateEntered")]
    assert entered.count("Record pre-state") == 2
    assert entered.count("Verify task findings") == 2
    assert outcome["verification"]["checked"] == findings
    # the certificates do not exist: nothing could be deactivated, and nothing is verified
    assert outcome["verification"]["notVerified"] == findings
    assert len(outcome["verification"]["notVerifiedFindings"]) == 10


def test_a_rerun_of_the_same_task_keeps_the_state_recorded_before_its_first_start(wf: Workflow) -> None:
    # Given a task that ran once: its certificate is INACTIVE now
    finding_id, plan, planned = quarantine_and_deactivate(wf, "RerunSensor")
    first = wf.run(plan)
    assert only_outcome(first)["status"] == "COMPLETED"

    # When another execution runs the same task (it finds the task already exists and follows it)
    second = wf.run(plan, name=f"rerun-{planned['taskId']}"[:80])

    # Then the record still holds the state before the first start, which a rollback must restore
    assert only_outcome(second)["status"] == "COMPLETED"
    before = records(wf, plan["auditTaskId"])[finding_id]["before"]
    assert before["certificate"]["status"] == "ACTIVE"
    assert before["things"] == {"RerunSensor": []}
