"""`remediator rollback` against a stack in the sandbox: a task applies its actions, the verification
passes, and the rollback puts back exactly the state recorded before the task (RemediationTable,
`PRESTATE#`), refuses a resource changed since unless forced, and changes nothing on a dry run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from remediator_cli.rollback import RollbackOptions, roll_back
from sandbox.device_defender.logging_reading import RoleOmitted
from sandbox.operator_account import SandboxAccount
from sandbox.workflow import Workflow, audit_plan, task
from tests.integration.workflow.test_resource_state import only_outcome, records

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
REVOKED_CA = "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"
POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"
ROLLBACK_ATTRIBUTES = {"rolledBackAt", "rolledBackBy", "rollbackResult", "rollbackObserved"}

_names = count()


def iot(wf: Workflow) -> Any:
    return wf.sb.client("iot")


@pytest.fixture(autouse=True)
def default_logging_reading(wf: Workflow) -> Iterator[None]:
    yield
    wf.sb.emulator.logging_role_omitted = RoleOmitted.REPLACES


def rollback(wf: Workflow, audit_task_id: str, **options: Any) -> dict[str, Any]:
    account = SandboxAccount(wf.sb)
    return roll_back(account, account.stack(wf.stack.name), RollbackOptions(audit_task_id, **options))


def caller(wf: Workflow) -> str:
    return str(wf.sb.client("sts").get_caller_identity()["Arn"])


# --- the resources, and their state as IoT reports it (the recorded fields, read independently) ---------


def device_state(wf: Workflow, certificate_id: str, thing: str) -> dict[str, Any]:
    with wf.sb.calls.pause():
        status = iot(wf).describe_certificate(certificateId=certificate_id)["certificateDescription"][
            "status"
        ]
        groups = iot(wf).list_thing_groups_for_thing(thingName=thing)["thingGroups"]
    return {"status": status, "groups": sorted(group["groupName"] for group in groups)}


def quarantined_device(wf: Workflow) -> tuple[dict[str, Any], list[str], Callable[[], Any]]:
    name = f"RollbackDevice{next(_names)}"
    device = wf.device(name)
    with wf.sb.calls.pause():
        iot(wf).create_thing_group(thingGroupName=f"{name}-sensors")
        iot(wf).add_thing_to_thing_group(thingGroupName=f"{name}-sensors", thingName=name)
    return (
        {SHARED: [device]},
        ["QuarantineThingsAction", "DeactivateDeviceCertificateAction"],
        lambda: device_state(wf, device["deviceCertificateId"], name),
    )


def deactivated_device(wf: Workflow) -> tuple[dict[str, Any], list[str], Callable[[], Any]]:
    name = f"RollbackDevice{next(_names)}"
    device = wf.device(name)
    return (
        {SHARED: [device]},
        ["DeactivateDeviceCertificateAction"],
        lambda: device_state(wf, device["deviceCertificateId"], name),
    )


def ca_certificate(wf: Workflow) -> tuple[dict[str, Any], list[str], Callable[[], Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"rollback-ca-{next(_names)}")])
    now = datetime.now(UTC)
    pem = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    with wf.sb.calls.pause():
        ca = iot(wf).register_ca_certificate(caCertificate=pem, setAsActive=True)["certificateId"]

    def state() -> Any:
        with wf.sb.calls.pause():
            return iot(wf).describe_ca_certificate(certificateId=ca)["certificateDescription"]["status"]

    return {REVOKED_CA: [{"caCertificateId": ca}]}, ["DeactivateCaCertificateAction"], state


def permissive_policy(wf: Workflow) -> tuple[dict[str, Any], list[str], Callable[[], Any]]:
    name = f"rollback-permissive-{next(_names)}"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with wf.sb.calls.pause():
        iot(wf).create_policy(policyName=name, policyDocument=json.dumps(document))
        default = iot(wf).get_policy(policyName=name)["defaultVersionId"]

    def state() -> Any:
        with wf.sb.calls.pause():
            versions = iot(wf).list_policy_versions(policyName=name)["policyVersions"]
            return {
                "default": iot(wf).get_policy(policyName=name)["defaultVersionId"],
                "versions": sorted(v["versionId"] for v in versions),
            }

    identifier = {"policyVersionIdentifier": {"policyName": name, "policyVersionId": default}}
    return {POLICY: [identifier]}, ["ReplacePolicyWithBlankAction"], state


def logging_options(wf: Workflow) -> dict[str, Any]:
    with wf.sb.calls.pause():
        options = dict(iot(wf).get_v2_logging_options())
    options.pop("ResponseMetadata")
    return options


def logging_turned_off(wf: Workflow) -> tuple[dict[str, Any], list[str], Callable[[], Any]]:
    """Logging the account once set up with the stack's own logging role, then turned off; restored exactly
    where IoT keeps the stored role when a request names none (the other readings are tested below)."""
    wf.sb.emulator.logging_role_omitted = RoleOmitted.KEEPS
    with wf.sb.calls.pause():
        role = wf.sb.client("iam").get_role(RoleName=wf.stack.physical_ids["IotLoggingRole"])["Role"]["Arn"]
        iot(wf).set_v2_logging_options(roleArn=role, defaultLogLevel="WARN", disableAllLogs=True)
    return (
        {LOGGING: [{"account": wf.sb.account_id}]},
        ["EnableErrorLoggingAction"],
        lambda: logging_options(wf),
    )


CASES = {
    "ENABLE_IOT_LOGGING": logging_turned_off,
    "ADD_THINGS_TO_THING_GROUP": quarantined_device,
    "UPDATE_DEVICE_CERTIFICATE": deactivated_device,
    "UPDATE_CA_CERTIFICATE": ca_certificate,
    "REPLACE_DEFAULT_POLICY_VERSION": permissive_policy,
}


def remediate(wf: Workflow, seed: dict[str, Any], actions: list[str]) -> tuple[str, str]:
    """Runs one task of the seeded finding to COMPLETED and verified; returns (audit task id, finding id)."""
    audit = wf.seed_audit(seed)
    [check] = seed
    planned = task({"findingIds": audit.ids(check)}, {check: [wf.action(name) for name in actions]})
    outcome = only_outcome(wf.run(audit_plan(audit.task_id, planned)))
    assert outcome["status"] == "COMPLETED", outcome
    assert outcome["verification"]["verified"] == len(audit.ids(check)), outcome["verification"]
    return audit.task_id, audit.ids(check)[0]


@pytest.mark.parametrize("action_type", sorted(CASES))
def test_each_action_type_is_rolled_back_to_exactly_its_recorded_state(
    wf: Workflow, action_type: str
) -> None:
    # Given a resource in a known state, remediated and verified
    seed, actions, state = CASES[action_type](wf)
    before = state()
    audit_task_id, finding_id = remediate(wf, seed, actions)
    assert state() != before
    wf.reports()

    # When the operator rolls the finding back
    result = rollback(wf, audit_task_id, finding_id=finding_id)

    # Then IoT holds exactly the state it held before the task (the blank policy version deleted too),
    # the record says who restored it and what was found, and the report is published
    assert state() == before
    assert (result["records"], result["restored"], result["refusedDrifted"]) == (1, 1, 0), result["items"]
    record = records(wf, audit_task_id)[finding_id]
    assert (record["rollbackResult"], record["rolledBackBy"]) == ("restored", caller(wf))
    assert datetime.fromisoformat(record["rolledBackAt"]).tzinfo is not None
    assert json.loads(record["rollbackObserved"]) != {}
    [report] = [m for m in wf.reports() if m.get("kind") == "rollback"]
    assert (report["auditTaskId"], report["restored"]) == (audit_task_id, 1)
    assert f"{finding_id} ({next(iter(seed))}" in report["summary"]

    # And a second rollback changes nothing and says so, keeping the first restore on the record
    again = rollback(wf, audit_task_id, finding_id=finding_id)
    assert (again["alreadyRestored"], again["restored"]) == (1, 0)
    assert state() == before
    assert records(wf, audit_task_id)[finding_id]["rolledBackAt"] == record["rolledBackAt"]


def test_the_recorded_before_is_what_the_rollback_restores(wf: Workflow) -> None:
    # Given a quarantined and deactivated device
    seed, actions, state = quarantined_device(wf)
    audit_task_id, finding_id = remediate(wf, seed, actions)
    recorded = records(wf, audit_task_id)[finding_id]["before"]

    # When it is rolled back
    rollback(wf, audit_task_id, all=True)

    # Then its certificate status and groups are the record's `before`, field for field
    [(thing, groups)] = recorded["things"].items()
    assert state() == {"status": recorded["certificate"]["status"], "groups": sorted(groups)}
    assert thing.startswith("RollbackDevice")


def test_a_resource_changed_since_is_refused_and_force_restores_it(wf: Workflow) -> None:
    # Given a quarantined device that someone has since put in another group by hand
    seed, actions, state = quarantined_device(wf)
    before = state()
    audit_task_id, finding_id = remediate(wf, seed, actions)
    [thing] = records(wf, audit_task_id)[finding_id]["before"]["things"]
    with wf.sb.calls.pause():
        iot(wf).create_thing_group(thingGroupName=f"{thing}-hand-picked")
        iot(wf).add_thing_to_thing_group(thingGroupName=f"{thing}-hand-picked", thingName=thing)
    changed = state()

    # When the operator rolls it back without --force
    refused = rollback(wf, audit_task_id, thing=thing)

    # Then nothing of the record is touched (its certificate stays INACTIVE) and the refusal is recorded
    assert (refused["refusedDrifted"], refused["restored"]) == (1, 0)
    assert state() == changed
    assert changed["status"] == "INACTIVE"
    record = records(wf, audit_task_id)[finding_id]
    assert record["rollbackResult"] == "refused-drifted"
    assert json.loads(record["rollbackObserved"])[f"things.{thing}"] == changed["groups"]
    assert set(changed["groups"]) - set(before["groups"]) == {
        f"{thing}-hand-picked",
        wf.stack.physical_ids["QuarantineThingGroup"],
    }

    # And with --force the recorded state comes back and the record says it was forced
    forced = rollback(wf, audit_task_id, thing=thing, force=True)
    assert forced["forced"] == 1
    assert state() == before
    assert records(wf, audit_task_id)[finding_id]["rollbackResult"] == "forced"


def test_thing_scope_restores_only_that_thing_and_a_dry_run_changes_nothing(wf: Workflow) -> None:
    # Given two devices of one audit, both deactivated by one task
    names = [f"RollbackScope{next(_names)}" for _ in range(2)]
    devices = [wf.device(name) for name in names]
    audit = wf.seed_audit({SHARED: devices})
    planned = task(
        {"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("DeactivateDeviceCertificateAction")]}
    )
    only_outcome(wf.run(audit_plan(audit.task_id, planned)))
    wf.reports()

    # When the operator first asks for a dry run of one thing, then rolls that thing back
    dry = rollback(wf, audit.task_id, thing=names[0], dry_run=True)
    after_dry = [
        device_state(wf, d["deviceCertificateId"], n)["status"] for d, n in zip(devices, names, strict=True)
    ]
    dry_attributes = {
        key for item in records(wf, audit.task_id).values() for key in item
    } & ROLLBACK_ATTRIBUTES
    dry_reports = wf.reports()
    done = rollback(wf, audit.task_id, thing=names[0])

    # Then the dry run said what it would restore and changed nothing, not even the records or the topic
    assert (dry["wouldRestore"], dry["restored"], dry["dryRun"]) == (1, 0, True)
    assert after_dry == ["INACTIVE", "INACTIVE"]
    assert dry_attributes == set()
    assert dry_reports == []
    # And the rollback restored that thing alone
    assert done["restored"] == 1
    statuses = [
        device_state(wf, d["deviceCertificateId"], n)["status"] for d, n in zip(devices, names, strict=True)
    ]
    assert statuses == ["ACTIVE", "INACTIVE"]


@pytest.mark.parametrize("reading", list(RoleOmitted), ids=lambda reading: reading.value)
def test_logging_is_turned_off_again_without_passing_a_role_under_each_reading(
    wf: Workflow, reading: RoleOmitted
) -> None:
    # Given account logging, off under someone else's role, that a task turned on under the stack's role
    wf.sb.emulator.logging_role_omitted = reading
    role = f"arn:aws:iam::{wf.sb.account_id}:role/someone-elses-logging-role"
    with wf.sb.calls.pause():
        iot(wf).set_v2_logging_options(roleArn=role, defaultLogLevel="WARN", disableAllLogs=True)
    audit_task_id, finding_id = remediate(
        wf, {LOGGING: [{"account": wf.sb.account_id}]}, ["EnableErrorLoggingAction"]
    )
    enabled = logging_options(wf)
    assert enabled["disableAllLogs"] is False

    # When it is rolled back
    result = rollback(wf, audit_task_id, all=True)

    # Then logging is off at its level again, with no role passed (no runtime iam:PassRole) and the
    # command that names the old role again listed
    [item] = result["items"]
    command = f"aws iot set-v2-logging-options --role-arn {role} --default-log-level WARN --disable-all-logs"
    assert command in item["details"][-1]
    assert wf.sb.iam.denials == []
    now = logging_options(wf)
    assert result["restored"] == 1, item
    assert (now["defaultLogLevel"], now["disableAllLogs"]) == ("WARN", True)
    assert now.get("roleArn") == (enabled["roleArn"] if reading is RoleOmitted.KEEPS else None)
    assert records(wf, audit_task_id)[finding_id]["rollbackResult"] == "restored"
    again = rollback(wf, audit_task_id, all=True)
    assert again["alreadyRestored"] == 1
