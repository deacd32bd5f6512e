"""Before any start, RemediationStateMachine asks PreStartAnalysisFunction what each group affects, what it
must leave alone and what it has remediated too often (failure-modes D29, D32, D35; property 10)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from sandbox import ExecutionResult
from sandbox.device_defender import SeededAudit
from sandbox.workflow import Workflow

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
PROTECTED_GROUP = "critical-infrastructure"


def report(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    output: dict[str, Any] = result.output_json
    return output


def run(wf: Workflow, audit: SeededAudit) -> tuple[dict[str, Any], dict[str, Any]]:
    outcome = wf.deliver(wf.audit_notification(audit))
    return outcome, report(wf.wait(wf.execution_arn(outcome["execution"]["name"])))


def run_until_approval_expires(wf: Workflow, audit: SeededAudit) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit remediated with no operator answering: its groups awaiting approval expire (24 h of
    sandbox time) and nothing of them starts."""
    outcome = wf.deliver(wf.audit_notification(audit))
    arn = wf.execution_arn(outcome["execution"]["name"])
    deadline = time.monotonic() + 30
    while not any(key.startswith("APPROVAL#") for key in wf.history(audit.task_id)):
        assert time.monotonic() < deadline, "no approval was asked"
        time.sleep(0.02)
    assert wf.start_calls() == []
    # (the workflow waits on the token once the request is out: then its time-out runs on the sandbox clock)
    wf.sb.clock.wait_for_waiters(1)
    wf.sb.clock.advance(86400 + 1)
    return outcome, report(wf.wait(arn))


def certificate_status(wf: Workflow, certificate_id: str) -> str:
    with wf.sb.calls.pause():
        description = wf.sb.client("iot").describe_certificate(certificateId=certificate_id)
    return str(description["certificateDescription"]["status"])


def protect(wf: Workflow, thing: str) -> None:
    iot = wf.sb.client("iot")
    with wf.sb.calls.pause():
        groups = [g["groupName"] for g in iot.list_thing_groups()["thingGroups"]]
        if PROTECTED_GROUP not in groups:
            iot.create_thing_group(thingGroupName=PROTECTED_GROUP)
        iot.add_thing_to_thing_group(thingGroupName=PROTECTED_GROUP, thingName=thing)


def policy_reaching(wf: Workflow, things: int, per_certificate: int) -> dict[str, Any]:
    """An allow-everything policy attached to certificates that `things` things use."""
    name = f"AllowAll-{uuid.uuid4().hex[:8]}"
    iot = wf.sb.client("iot")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with wf.sb.calls.pause():
        iot.create_policy(policyName=name, policyDocument=json.dumps(document))
        for index in range(things // per_certificate):
            certificate = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
            iot.attach_policy(policyName=name, target=certificate)
            for thing in range(per_certificate):
                thing_name = f"{name}-{index}-{thing}"
                iot.create_thing(thingName=thing_name)
                iot.attach_thing_principal(thingName=thing_name, principal=certificate)
    return {"policyVersionIdentifier": {"policyName": name, "policyVersionId": "1"}}


def test_a_policy_reaching_40_devices_is_counted_as_40_although_the_audit_reports_one_finding(
    wf: Workflow,
) -> None:
    # Given one finding on a policy attached to 10 certificates that 40 things use (the rule caps 25 devices)
    audit = wf.seed_audit({POLICY: [policy_reaching(wf, things=40, per_certificate=4)]})

    # When the audit is remediated and no one approves it
    outcome, summary = run_until_approval_expires(wf, audit)

    # Then the notification's one resource became 40 devices counted from IoT, and the group waited, unstarted
    assert outcome["mitigationTasks"][0]["affectedResources"] == 1
    [waiting] = summary["analysis"]
    assert waiting["status"] == "APPROVAL_REQUESTED"
    assert waiting["affectedDevices"] == 40
    assert waiting["reason"] == f"over its cap: 40 affected devices > {POLICY} rule maxDevices 25"
    assert [t["status"] for t in summary["tasks"]] == ["APPROVAL_EXPIRED"]
    assert summary["result"] == "needs-human"
    assert wf.start_calls() == []
    assert wf.sb.calls.of("iot", "ListTargetsForPolicy")


def test_an_enforce_group_over_its_device_cap_is_never_partially_started(wf: Workflow) -> None:
    # Given a shared certificate used by 51 things (the rule caps 50 devices) and logging off, in one enforce group
    iot = wf.sb.client("iot")
    with wf.sb.calls.pause():
        certificate = iot.create_keys_and_certificate(setAsActive=True)
        for index in range(51):
            name = f"crowd-{uuid.uuid4().hex[:6]}-{index}"
            iot.create_thing(thingName=name)
            iot.attach_thing_principal(thingName=name, principal=certificate["certificateArn"])
    audit = wf.seed_audit(
        {
            SHARED: [{"deviceCertificateId": certificate["certificateId"]}],
            "LOGGING_DISABLED_CHECK": [{"account": wf.sb.account_id}],
        }
    )

    outcome, summary = run_until_approval_expires(wf, audit)

    # Then the whole group waits for approval, and without it no task starts, not even for the logging check
    assert len([t for t in outcome["mitigationTasks"] if t["mode"] == "enforce"]) == 1
    assert [(w["status"], w["affectedDevices"]) for w in summary["analysis"]] == [("APPROVAL_REQUESTED", 51)]
    assert wf.start_calls() == []
    assert certificate_status(wf, certificate["certificateId"]) == "ACTIVE"
    records = wf.history(audit.task_id)
    assert [
        t["status"] for t in records[next(k for k in records if k.startswith("SUMMARY#"))]["report"]["tasks"]
    ] == ["APPROVAL_EXPIRED"]


def test_a_protected_things_finding_is_never_mitigated_while_the_rest_of_its_group_is(wf: Workflow) -> None:
    # Given three devices with shared-certificate findings, one of them in the protected group
    things = {name: f"{name}-{uuid.uuid4().hex[:6]}" for name in ("pump", "valve", "meter")}
    devices = {name: wf.device(thing) for name, thing in things.items()}
    valve = things["valve"]
    protect(wf, valve)
    audit = wf.seed_audit({SHARED: list(devices.values())})
    finding_of = {
        f.resource_identifier["deviceCertificateId"]: f.finding_id for f in wf.findings(audit, SHARED)
    }

    outcome, summary = run(wf, audit)

    # Then the others are targeted by findingIds (never the whole audit), the valve's certificate stays active
    [started] = wf.start_calls()
    assert set(started.params["target"]) == {"findingIds"}
    valve_certificate = devices["valve"]["deviceCertificateId"]
    assert sorted(started.params["target"]["findingIds"]) == sorted(
        finding_of[d["deviceCertificateId"]] for name, d in devices.items() if name != "valve"
    )
    assert certificate_status(wf, valve_certificate) == "ACTIVE"
    assert certificate_status(wf, devices["pump"]["deviceCertificateId"]) == "INACTIVE"
    # And the report names the excluded finding and why
    [excluded] = summary["excluded"]
    assert excluded["findingId"] == finding_of[valve_certificate]
    assert excluded["reason"] == f"protected: thing {valve} is in thing group {PROTECTED_GROUP}"
    assert outcome["mitigationTasks"][0]["target"] == {
        "auditTaskId": audit.task_id,
        "auditCheckToReasonCodeFilter": {SHARED: ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"]},
    }


def test_a_resource_suppressed_after_the_audit_is_excluded_until_its_suppression_expires(
    wf: Workflow,
) -> None:
    # Given two findings, and a suppression an operator created after the audit ran (with an expiry)
    first, second = wf.device(f"s1-{uuid.uuid4().hex[:6]}"), wf.device(f"s2-{uuid.uuid4().hex[:6]}")
    audit = wf.seed_audit({SHARED: [first, second]})
    with wf.sb.calls.pause():
        wf.sb.client("iot").create_audit_suppression(
            checkName=SHARED,
            resourceIdentifier=first,
            expirationDate=wf.sb.clock.now() + timedelta(days=7),
            clientRequestToken=uuid.uuid4().hex,
        )

    _, summary = run(wf, audit)

    [started] = wf.start_calls()
    assert len(started.params["target"]["findingIds"]) == 1
    assert certificate_status(wf, first["deviceCertificateId"]) == "ACTIVE"
    assert certificate_status(wf, second["deviceCertificateId"]) == "INACTIVE"
    [excluded] = summary["excluded"]
    assert excluded["reason"].startswith("suppressed:")


def test_the_fourth_attempt_on_one_certificate_is_escalated_not_remediated(wf: Workflow) -> None:
    # Given a certificate remediated by three audits' tasks
    device = wf.device(f"flapping-{uuid.uuid4().hex[:6]}")
    for _ in range(3):
        _, summary = run(wf, wf.seed_audit({SHARED: [device]}))
        assert summary["result"] == "full-success"
    assert len(wf.start_calls()) == 3

    # When a fourth audit finds it non-compliant again
    _, summary = run(wf, wf.seed_audit({SHARED: [device]}))

    # Then it is escalated, with the reason, and no fourth task starts
    assert len(wf.start_calls()) == 3
    [escalated] = summary["escalated"]
    assert "remediated 3 times in the last 30 days" in escalated["reason"]
    assert summary["result"] == "needs-human"


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("iot", "ListAuditSuppressions"),
        ("iot", "ListThingsInThingGroup"),
        ("iot", "ListPrincipalThings"),
        ("iot", "ListAuditFindings"),
        ("dynamodb", "Query"),
        ("lambda", "Invoke"),
    ],
)
def test_an_error_reading_exclusions_caps_or_attempts_means_no_mitigation_call(
    wf: Workflow, service: str, operation: str
) -> None:
    # Given every call of one kind the analysis makes failing (throttled past every retry)
    audit = wf.seed_audit({SHARED: [wf.device(f"f-{uuid.uuid4().hex[:6]}")]})
    error = "ThrottlingException" if service != "lambda" else "ServiceException"
    wf.sb.faults.add(service, operation, error=error, times=None)

    _, summary = run(wf, audit)

    # Then no mitigation task starts and the group is reported as not analysed
    assert wf.start_calls() == []
    assert [group["status"] for group in summary["analysis"]] == ["ANALYSIS_FAILED"]
    assert summary["result"] == "needs-human"


def test_expired_suppressions_exclude_nothing(wf: Workflow) -> None:
    device = wf.device(f"e-{uuid.uuid4().hex[:6]}")
    audit = wf.seed_audit({SHARED: [device]})
    # The clock stands still while IoT checks that the expiry is in the future: 30 sandbox seconds are
    # 30 ms of wall clock, which a loaded machine may spend between reading the time and the call.
    with wf.sb.calls.pause(), wf.sb.clock.frozen() as now:
        wf.sb.client("iot").create_audit_suppression(
            checkName=SHARED,
            resourceIdentifier=device,
            expirationDate=now + timedelta(seconds=30),
            clientRequestToken=uuid.uuid4().hex,
        )
    wf.sb.sleep(60)

    _, summary = run(wf, audit)

    assert summary["excluded"] == []
    [started] = wf.start_calls()
    assert "auditTaskId" in started.params["target"]
