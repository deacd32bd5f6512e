"""The reconciliation sweep in the sandbox: the deployed ReconcileFunction lists the audits Device Defender
completed, decides those the stack never heard of through the notification's own path, and nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.fleet import Seeder
from sandbox.workflow import Workflow

LOGGING = "LOGGING_DISABLED_CHECK"


def sweep(wf: Workflow, days: int = 1) -> dict[str, Any]:
    report: dict[str, Any] = wf.sb.invoke("ReconcileFunction", {"days": days})
    return report


def reconciled_ids(report: dict[str, Any]) -> list[str]:
    return [item["auditTaskId"] for item in report["reconciled"]]


def starts_by(wf: Workflow, role: str) -> list[str]:
    arn = wf.stack.physical_ids[role]
    return [
        c.params["name"]
        for c in wf.sb.calls.of("stepfunctions", "StartExecution")
        if c.ok and arn in (c.caller or "")
    ]


@pytest.fixture
def broken_notification_role(wf: Workflow) -> Iterator[None]:
    """The audit notification role no longer trusts AWS IoT: Device Defender does not fail the audit,
    and its notification is lost (the failure mode "role broken")."""
    iam = wf.sb.client("iam")
    role = wf.stack.physical_ids["AuditNotificationRole"]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    lambda_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(lambda_only))
    wf.sb.iam.denials.clear()
    yield
    wf.sb.iam.denials.clear()
    iam.update_assume_role_policy(
        RoleName=role, PolicyDocument=trust if isinstance(trust, str) else json.dumps(trust)
    )


@pytest.mark.usefixtures("broken_notification_role")
def test_an_audit_whose_notification_was_lost_is_remediated_once_and_a_second_sweep_does_nothing(
    wf: Workflow,
) -> None:
    # Given logging switched off, and an audit whose notification Device Defender could not publish
    Seeder("reconcile", wf.sb.emulator, wf.sb.client("iot")).logging_disabled(explicitly=True)
    audit = wf.sb.client("iot").start_on_demand_audit_task(targetCheckNames=[LOGGING])["taskId"]
    wf.sb.settle()
    [lost] = [p for p in wf.sb.emulator.published if p.kind == "audit" and audit in p.message]
    assert lost.error is not None
    assert not [i for i in wf.sb.lambdas.invocations if i.function_name == wf.stack["AuditEventsFunction"]]

    # When the sweep runs, and then again
    first = sweep(wf)
    execution = wf.wait(wf.execution_arn(first["reconciled"][0]["executionName"]))
    second = sweep(wf)

    # Then the first decided the audit through the notification's path and remediated it
    assert reconciled_ids(first) == [audit]
    assert first["reconciled"][0]["decision"] == "remediate"
    assert first["errors"] == []
    assert execution.output_json["result"] == "full-success"
    with wf.sb.calls.pause():
        logging = wf.sb.client("iot").get_v2_logging_options()
    assert logging["defaultLogLevel"] == "ERROR"
    # ... and the second found it decided and started nothing
    assert audit not in reconciled_ids(second)
    assert second["alreadyDecided"] >= 1
    assert starts_by(wf, "ReconcileFunctionRole") == [first["reconciled"][0]["executionName"]]
    # (IAM refused only IoT's assuming the broken role; the sweep's own calls were all allowed)
    assert [(d.caller, d.action) for d in wf.sb.iam.denials] == [("iot.amazonaws.com", "sts:AssumeRole")]


def test_a_sweep_while_the_notifications_run_is_in_flight_does_nothing(wf: Workflow) -> None:
    # Given an audit whose notification started its execution, still running (its task is slow): the
    # decision log holds only this rules version's check claims, so the sweep takes the same path
    wf.sb.emulator.mitigation_task_seconds = 100_000
    audit = wf.seed_audit({LOGGING: [{"account": wf.sb.account_id}]})
    outcome = wf.deliver(wf.audit_notification(audit))
    assert outcome["decision"] == "remediate"
    assert not any(key.startswith(("SUMMARY#", "DECISION#")) for key in wf.history(audit.task_id))

    # When the sweep runs
    report = sweep(wf)

    # Then the same idempotency key answers: the audit counts as decided and nothing more starts
    assert audit.task_id not in reconciled_ids(report)
    assert report["errors"] == []
    names = [c.params["name"] for c in wf.sb.calls.of("stepfunctions", "StartExecution") if c.ok]
    assert names.count(outcome["execution"]["name"]) == 1
    assert starts_by(wf, "ReconcileFunctionRole") == []


def test_a_sweep_over_more_audits_than_one_page_decides_each(wf: Workflow) -> None:
    # Given more completed audits than ListAuditTasks returns in one page (250), none notified
    audits = {wf.seed_audit({}).task_id for _ in range(260)}

    # When the sweep runs
    report = sweep(wf)

    # Then it read every page and decided each audit once (compliant: nothing to start)
    assert audits <= set(reconciled_ids(report))
    assert {item["decision"] for item in report["reconciled"] if item["auditTaskId"] in audits} == {
        "no-action"
    }
    pages = [c for c in wf.sb.calls.of("iot", "ListAuditTasks") if c.ok]
    assert len(pages) >= 2
    assert {c.params["maxResults"] for c in pages} == {250}
    assert audits.isdisjoint(reconciled_ids(sweep(wf)))


def test_an_audit_that_cannot_be_read_is_reported_counted_and_decided_by_the_next_sweep(
    wf: Workflow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an undecided audit that DescribeAuditTask keeps failing for
    audit = wf.seed_audit({LOGGING: [{"account": wf.sb.account_id}]})
    wf.sb.faults.add(
        "iot",
        "DescribeAuditTask",
        error="InternalFailureException",
        times=None,
        when=lambda params: params["taskId"] == audit.task_id,
    )
    capsys.readouterr()

    # When the sweep runs, and again once IoT answers
    failed = sweep(wf)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    recorded = wf.history(audit.task_id)
    wf.sb.faults.clear()
    recovered = sweep(wf)

    # Then the first names the audit and the error, counts it in ReconcileErrors, and records nothing of it
    [error] = [e for e in failed["errors"] if e["auditTaskId"] == audit.task_id]
    assert "DescribeAuditTask" in error["error"]
    assert "InternalFailureException" in error["error"]
    assert sum(m["ReconcileErrors"][0] for m in metrics if "ReconcileErrors" in m) >= 1
    assert recorded == {}
    # ... so the next sweep decides it: nothing was lost
    assert audit.task_id in reconciled_ids(recovered)
    wf.wait(
        wf.execution_arn(
            next(r["executionName"] for r in recovered["reconciled"] if r["auditTaskId"] == audit.task_id)
        )
    )
