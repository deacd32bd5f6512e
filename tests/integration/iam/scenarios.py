"""Named sandbox scenarios that, together, make every call the stack's runtime roles make in the real
flow, each checked against its healthy outcome. The IAM suite runs them on template.yaml (the
permissions manifest is what they were granted) and on mutated copies of it (they must break).

Each scenario gets a fresh sandbox with the template deployed and returns its problems: an empty list
is the healthy outcome.

- audit: an on-demand audit of the workshop fleet plus a revoked CA and conflicting client ids; its
  notification (AuditNotificationRole) reaches the function, whose execution quarantines (deny-all
  policy attached and verified), deactivates the device certificate, enables logging and publishes a
  finding, asks for the CA group's approval (ApprovalRequestFunction keeps the token and publishes the
  request), and once an operator approves it deactivates the CA certificate; the report reaches
  RemediationReportsTopic.
- approval-expired-by-pull: a policy group waits for approval; the kill switch is pulled, and
  ApprovalExpiryFunction (invoked by the switch's EventBridge rule) expires it: nothing starts.
- policy-replacement: the workflow runs a task replacing an overly permissive policy's default
  version (its rule is dry-run in rules.yaml, so no audit starts it).
- finding-window: a per-finding notification claims the finding into its window's inbox; the window's
  execution reads the inbox and publishes the finding.
- reconciliation: an audit whose notification never arrived; the sweep (ReconcileFunction) lists it,
  reads it and starts its execution through the notification's path, which enables logging; the sweep
  also counts the fleet and the quarantine group.
- rejected-message: a message that is no audit notification is kept in the quarantine queue.
- failure-destination: the function fails (StartExecution refused by Step Functions) until Lambda
  sends the event to the on-failure queue.
- quarantine-blocked: IoT refuses AttachPolicy, so the quarantine task is blocked and the
  QuarantineBlocked metric is sent.
- leaked-slot: executions stopped while holding every mitigation task slot leave them taken; the next
  audit's task finds their executions ended (ListExecutions), reclaims the slots and completes.
- failed-execution: IoT keeps refusing StartAuditMitigationActionsTask, the execution fails, and
  EventBridge reports it on RemediationReportsTopic.
- quarantine-expiry: a device the shared-certificate rule quarantined (its verification starts the
  rule's quarantineDays timer); that many days later, an audit no longer reports its finding and the
  daily sweep (QuarantineExpiryFunction) releases it from the quarantine group and reports it.
- security-hub-sync: with SecurityHubSync=Enabled and Device Defender's findings in Security Hub, a
  whole-audit group in mode approve has its findings NOTIFIED (SecurityHubSyncFunction lists them from
  IoT) and, once approved, verified and RESOLVED (read from the pre-state records); the same device
  deactivated again by a second audit is verified as a recurrence (ResourceStateFunction reads
  ByResource).
- rollback: with SecurityHubSync=Enabled, tasks quarantine and deactivate a device, deactivate a CA
  certificate, replace a policy's default version and turn account logging on; someone then moves the
  device to another group by hand, and RollbackFunction (as `remediator rollback` invokes it) restores the
  device with --force by its thing, then the rest of the audit (logging off again), sets the findings back
  to NEW and publishes its report; a second rollback finds everything as before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from remediator_cli import approvals
from remediator_cli.errors import OperatorError
from remediator_cli.rollback import RollbackOptions, roll_back
from sandbox import LambdaFunctionError, Sandbox, Stack
from sandbox.fleet import Seeder
from sandbox.operator_account import SandboxAccount
from sandbox.securityhub.integration import disable_security_hub, enable_security_hub
from sandbox.workflow import TIME_SCALE, Workflow, audit_plan, task
from tests.conftest import ROOT, with_message

TEMPLATE: Final = ROOT / "template.yaml"
PARAMETERS: Final = {
    "RemediationMode": "Enforce",
    "ManageAccountAuditConfiguration": "true",
    "FindingWindowSeconds": 10,
    "LogLevel": "WARNING",
}
AUDIT_CHECKS: Final = (
    "DEVICE_CERTIFICATE_SHARED_CHECK",
    "LOGGING_DISABLED_CHECK",
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
    "CONFLICTING_CLIENT_IDS_CHECK",
)
POLICY_CHECK: Final = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
SHARED_CHECK: Final = "DEVICE_CERTIFICATE_SHARED_CHECK"
LOGGING_CHECK: Final = "LOGGING_DISABLED_CHECK"
EXPIRING_CHECK: Final = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
SETTLE_SECONDS: Final = 30.0


@dataclass
class Run:
    """A scenario's sandbox, still open: what the scenario saw, and IAM's record of it."""

    sb: Sandbox
    stack: Stack
    wf: Workflow
    problems: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def role_ids(self) -> dict[str, str]:
        """Role ARN -> logical id, for the stack's roles."""
        return {
            str(self.stack.get_att(logical_id, "Arn")): logical_id
            for logical_id, kind in self.stack.resource_types.items()
            if kind == "AWS::IAM::Role"
        }

    def role_arn(self, logical_id: str) -> str:
        return str(self.stack.get_att(logical_id, "Arn"))

    def granted(self) -> set[tuple[str, str]]:
        """(role logical id, action) of every request IAM allowed a role of the stack."""
        roles = self.role_ids()
        return {(roles[arn], action) for arn, action in self.sb.iam.granted if arn in roles}


def _report(run: Run, result: Any, *, expected: str = "full-success") -> None:
    """The execution SUCCEEDED with the expected result."""
    if result.status != "SUCCEEDED":
        run.problems.append(f"execution {result.status}: {result.get('error')} {result.get('cause')}")
        return
    run.report = result.output_json
    if run.report.get("result") != expected:
        run.problems.append(f"report result {run.report.get('result')!r}, not {expected!r}: {run.report}")
    unknown = [
        t["taskId"] for t in run.report.get("tasks", []) if t.get("verification", {}).get("recurrenceUnknown")
    ]
    if unknown:
        run.problems.append(f"the earlier remediations of the findings of {unknown} could not be read")


def _invocations(run: Run) -> None:
    """Every invocation of the function succeeded (a failure is retried, then kept in a queue)."""
    failed = [i.error_payload() for i in run.sb.lambdas.invocations if not i.succeeded]
    if failed:
        run.problems.append(f"the function failed: {failed}")


def _audit(run: Run) -> None:
    sb = run.sb
    # The defects the four checks report, and nothing else to seed.
    fleet = Seeder("iam-audit", sb.emulator, sb.client("iot"))
    fleet.shared_certificate(policy=fleet.allow_everything("AllowAllPolicy"))
    fleet.logging_disabled(explicitly=False)
    fleet.revoked_ca_certificate()
    fleet.conflicting_client_ids()
    audit = sb.client("iot").start_on_demand_audit_task(targetCheckNames=list(AUDIT_CHECKS))["taskId"]
    # Not the executions: the CA group waits for its approval below.
    sb.settle(timeout=SETTLE_SECONDS, executions=False)
    sent = [p for p in sb.emulator.published if p.kind == "audit"]
    if [p.error for p in sent] != [None]:
        run.problems.append(f"audit notification not sent: {[p.error for p in sent]}")
        return
    executions = run.wf.executions()
    if len(executions) != 1:
        run.problems.append(f"{len(executions)} executions for audit {audit}")
        return
    if not _approve_pending(run, audit):
        return
    result = run.wf.wait(executions[0])
    _invocations(run)
    _report(run, result)
    reports = run.wf.reports()
    if run.report and run.report not in reports:
        run.problems.append("the report did not reach RemediationReportsTopic")
    if not any("findingId" in message for message in reports):
        run.problems.append("no finding was published to RemediationReportsTopic")


def _pending(run: Run, audit_task_id: str) -> list[dict[str, Any]]:
    """The audit's approvals still waiting, once the workflow asked for them (or [] after SETTLE_SECONDS)."""
    account = SandboxAccount(run.sb)
    stack = account.stack(run.stack.name)
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with run.sb.calls.pause():
            waiting = [a for a in approvals.pending(account, stack) if a["auditTaskId"] == audit_task_id]
        if waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)


def _approve_pending(run: Run, audit_task_id: str) -> bool:
    """An operator approves the audit's one waiting group (the operator's calls are not the stack's)."""
    waiting = _pending(run, audit_task_id)
    if len(waiting) != 1:
        run.problems.append(f"{len(waiting)} approvals pending for audit {audit_task_id}, not one")
        return False
    account = SandboxAccount(run.sb)
    with run.sb.calls.pause(faults=False):
        approvals.decide(
            account, account.stack(run.stack.name), audit_task_id, waiting[0]["taskId"], "approve"
        )
    return True


def _approval_expired_by_pull(run: Run) -> None:
    iot = run.sb.client("iot")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with run.sb.calls.pause():
        iot.create_policy(policyName="AllowAll", policyDocument=json.dumps(document))
    audit = run.wf.seed_audit(
        {POLICY_CHECK: [{"policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}}]}
    )
    name = run.wf.deliver(run.wf.audit_notification(audit)).get("execution", {}).get("name")
    if not name or len(_pending(run, audit.task_id)) != 1:
        run.problems.append(f"no approval pending for audit {audit.task_id}")
        return
    switch = str(run.stack.outputs["KillSwitchParameterName"])
    with run.sb.calls.pause():
        run.sb.client("ssm").put_parameter(Name=switch, Value="pulled", Overwrite=True)
    _report(run, run.wf.wait(run.wf.execution_arn(name)), expected="needs-human")
    outcomes = [
        (o.get("status"), str(o.get("reason", "")).endswith("kill switch pulled; nothing was started"))
        for o in run.report.get("tasks", [])
    ]
    if outcomes != [("APPROVAL_EXPIRED", True)]:
        run.problems.append(f"the pull did not expire the pending approval: {run.report.get('tasks')}")


def _policy_replacement(run: Run) -> None:
    iot = run.sb.client("iot")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    with run.sb.calls.pause():
        iot.create_policy(policyName="AllowAll", policyDocument=json.dumps(document))
    policy = {"policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}}
    audit = run.wf.seed_audit({POLICY_CHECK: [policy]})
    planned = task(
        {"findingIds": audit.ids(POLICY_CHECK)},
        {POLICY_CHECK: [run.wf.action("ReplacePolicyWithBlankAction")]},
    )
    _report(run, run.wf.run(audit_plan(audit.task_id, planned)))
    with run.sb.calls.pause():
        version = iot.get_policy(policyName="AllowAll")["defaultVersionId"]
    if version == "1":
        run.problems.append("the policy's default version was not replaced")


def _finding_window(run: Run) -> None:
    audit = run.wf.seed_audit({EXPIRING_CHECK: [{"deviceCertificateId": f"{7:064x}"}]})
    [finding] = run.wf.findings(audit, EXPIRING_CHECK)
    outcome = run.wf.deliver(run.wf.finding_notification(finding))
    name = outcome.get("execution", {}).get("name")
    if not name:
        run.problems.append(f"the finding was not claimed into a window: {outcome}")
        return
    run.sb.settle(timeout=SETTLE_SECONDS)
    _invocations(run)
    _report(run, run.wf.wait(run.wf.execution_arn(name)))


def _reconciliation(run: Run) -> None:
    audit = run.wf.seed_audit({LOGGING_CHECK: [{"account": run.sb.account_id}]})
    report = run.sb.invoke("ReconcileFunction", {"days": 1})
    if "error" in report.get("quarantine", {"error": "not measured"}):
        run.problems.append(f"the sweep did not count the quarantine share: {report.get('quarantine')}")
    reconciled = [r for r in report.get("reconciled", []) if r.get("auditTaskId") == audit.task_id]
    if [r.get("decision") for r in reconciled] != ["remediate"] or report.get("errors"):
        run.problems.append(f"the sweep did not remediate the audit: {report}")
        return
    _report(run, run.wf.wait(run.wf.execution_arn(reconciled[0]["executionName"])))


def _quarantine_expiry(run: Run) -> None:
    wf = run.wf
    device = wf.device("ExpiringSensor")
    audit = wf.seed_audit({SHARED_CHECK: [device]})
    actions = [wf.action("QuarantineThingsAction"), wf.action("DeactivateDeviceCertificateAction")]
    _report(
        run,
        wf.run(
            audit_plan(audit.task_id, task({"findingIds": audit.ids(SHARED_CHECK)}, {SHARED_CHECK: actions}))
        ),
    )
    run.sb.clock.advance(31 * 86_400)
    wf.seed_audit({SHARED_CHECK: []})
    report = run.sb.invoke("QuarantineExpiryFunction", {"missedDays": 7})
    if [entry.get("thing") for entry in report.get("released", [])] != ["ExpiringSensor"] or report.get(
        "errors"
    ):
        run.problems.append(f"the sweep did not release the thing: {report}")
    with run.sb.calls.pause():
        groups = run.sb.client("iot").list_thing_groups_for_thing(thingName="ExpiringSensor")["thingGroups"]
    if groups:
        run.problems.append(f"the thing is still in {groups}")
    published = [m for m in wf.reports(at_least=2, timeout=5.0) if m.get("kind") == "quarantine-expiry"]
    if not published:
        run.problems.append("the sweep's report did not reach RemediationReportsTopic")


def _queue_messages(run: Run, logical_id: str) -> list[dict[str, Any]]:
    with run.sb.calls.pause():
        messages = (
            run.sb.client("sqs")
            .receive_message(QueueUrl=run.stack[logical_id], MaxNumberOfMessages=10)
            .get("Messages", [])
        )
    return [json.loads(message["Body"]) for message in messages]


def _rejected_message(run: Run) -> None:
    event = with_message(run.wf.sns_event({}), "this is not an audit notification")
    outcome = run.sb.invoke("AuditEventsFunction", event)
    if outcome.get("decision") != "rejected":
        run.problems.append(f"the message was not rejected: {outcome}")
    if len(_queue_messages(run, "AuditEventsQuarantineQueue")) != 1:
        run.problems.append("the rejected message is not in the quarantine queue")


def _failure_destination(run: Run) -> None:
    run.sb.faults.add("stepfunctions", "StartExecution", error="ServiceUnavailable", times=None)
    audit = run.wf.seed_audit({LOGGING_CHECK: [{"account": run.sb.account_id}]})
    run.sb.invoke_async("AuditEventsFunction", run.wf.sns_event(run.wf.audit_notification(audit)))
    run.sb.settle(timeout=SETTLE_SECONDS)
    run.sb.faults.clear()
    failed = _queue_messages(run, "AuditEventsFailureQueue")
    if [m.get("requestContext", {}).get("condition") for m in failed] != ["RetriesExhausted"]:
        run.problems.append(f"the failed event is not in the on-failure queue: {failed}")


def _blocked_signals(run: Run) -> float:
    metric = {
        "Namespace": "IoTAuditRemediator",
        "MetricName": "QuarantineBlocked",
        "Dimensions": [{"Name": "stack", "Value": run.stack.name}],
    }
    now = datetime.now(UTC)
    with run.sb.calls.pause():
        data = run.sb.client("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {"Id": "blocked", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
        )
    return float(sum(value for result in data["MetricDataResults"] for value in result["Values"]))


def _quarantine_blocked(run: Run) -> None:
    run.sb.faults.add("iot", "AttachPolicy", error="UnauthorizedException", times=None)
    audit = run.wf.seed_audit({SHARED_CHECK: [run.wf.device("UnprotectedSensor")]})
    planned = task(
        {"findingIds": audit.ids(SHARED_CHECK)}, {SHARED_CHECK: [run.wf.action("QuarantineThingsAction")]}
    )
    _report(run, run.wf.run(audit_plan(audit.task_id, planned)), expected="failed")
    outcomes = run.report.get("tasks", [])
    if [(o.get("status"), o.get("signalError")) for o in outcomes] != [("BLOCKED", None)]:
        run.problems.append(f"the task was not blocked, or its metric not sent: {outcomes}")
    if _blocked_signals(run) != 1:
        run.problems.append("no QuarantineBlocked data point")


def _leaked_slot(run: Run) -> None:
    run.sb.emulator.mitigation_task_seconds = 100_000
    slots = int(run.stack.parameters["MaxConcurrentMitigationTasks"])
    stopped = [run.wf.start(_logging_plan(run)) for _ in range(slots)]
    held = _wait_for(lambda: len(_running_tasks(run)) == slots)
    with run.sb.calls.pause():
        for arn in stopped:
            run.sb.client("stepfunctions").stop_execution(executionArn=arn)
    run.wf.cancel_running_tasks()
    run.sb.emulator.mitigation_task_seconds = 1
    if not held:
        run.problems.append(f"the {slots} tasks never all ran: {run.wf.mitigation_tasks()}")
    result = run.wf.run(_logging_plan(run))
    _report(run, result)
    reclaimed = any(
        e.get("stateEnteredEventDetails", {}).get("name") == "Reclaim leaked slots" for e in result.history
    )
    if not reclaimed:
        run.problems.append("the leaked slots were not reclaimed")


def _logging_plan(run: Run) -> dict[str, Any]:
    audit = run.wf.seed_audit({LOGGING_CHECK: [{"account": run.sb.account_id}]})
    planned = task(
        {"findingIds": audit.ids(LOGGING_CHECK)}, {LOGGING_CHECK: [run.wf.action("EnableErrorLoggingAction")]}
    )
    return audit_plan(audit.task_id, planned)


def _running_tasks(run: Run) -> list[str]:
    return [task_id for task_id, t in run.wf.mitigation_tasks().items() if t.status == "IN_PROGRESS"]


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _security_hub_sync(run: Run) -> None:
    hub = enable_security_hub(run.sb.emulator)
    try:
        device = run.wf.device("noted-0")
        audit = run.wf.seed_audit({EXPIRING_CHECK: [device, run.wf.device("noted-1")]})
        ids = audit.ids(EXPIRING_CHECK)
        reasons = sorted({f.reason_code for f in run.wf.findings(audit, EXPIRING_CHECK)})
        planned = task(
            {"auditTaskId": audit.task_id, "auditCheckToReasonCodeFilter": {EXPIRING_CHECK: reasons}},
            {EXPIRING_CHECK: [run.wf.action("DeactivateDeviceCertificateAction")]},
            mode="approve",
        )
        arn = run.wf.start(audit_plan(audit.task_id, planned))
        if not _approve_pending(run, audit.task_id):
            return
        _report(run, run.wf.wait(arn))
        notified = {
            identifier["Id"]
            for update in hub.updates
            if update.get("Workflow", {}).get("Status") == "NOTIFIED"
            for identifier in update["FindingIdentifiers"]
        }
        if len(notified) != len(ids):
            run.problems.append(f"{len(notified)} findings NOTIFIED while awaiting approval, not {len(ids)}")
        synced = [t.get("securityHub", {}) for t in run.report.get("tasks", [])]
        if [t.get("sync") for t in synced] != ["done"]:
            run.problems.append(f"the verified findings were not resolved in Security Hub: {synced}")
        if any((hub.audit_finding_for(f) or {}).get("Workflow", {}).get("Status") != "RESOLVED" for f in ids):
            run.problems.append("a verified finding is not RESOLVED in Security Hub")
        again = run.wf.seed_audit({EXPIRING_CHECK: [device]})
        repeated = task(
            {"findingIds": again.ids(EXPIRING_CHECK)},
            {EXPIRING_CHECK: [run.wf.action("DeactivateDeviceCertificateAction")]},
        )
        _report(run, run.wf.run(audit_plan(again.task_id, repeated)))
        totals = [t.get("verification", {}) for t in run.report.get("tasks", [])]
        if [t.get("recurring") for t in totals] != [1]:
            run.problems.append(f"the device deactivated again was not counted as recurring: {totals}")
    finally:
        disable_security_hub(hub)


def _rollback(run: Run) -> None:
    hub = enable_security_hub(run.sb.emulator)
    try:
        fleet = Seeder("iam-rollback", run.sb.emulator, run.sb.client("iot"))
        authority = fleet.authority(
            "RollbackCA", valid_from=fleet.now, valid_until=fleet.now + timedelta(days=365)
        )
        device = run.wf.device("rolled-back")
        iot = run.sb.client("iot")
        with run.sb.calls.pause():
            iot.create_thing_group(thingGroupName="rollback-sensors")
            iot.add_thing_to_thing_group(thingGroupName="rollback-sensors", thingName="rolled-back")
            iot.create_policy(
                policyName="RollbackAllowAll",
                policyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
                    }
                ),
            )
        ca_check = "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"
        audit = run.wf.seed_audit(
            {
                SHARED_CHECK: [device],
                ca_check: [{"caCertificateId": authority.certificate_id}],
                POLICY_CHECK: [
                    {"policyVersionIdentifier": {"policyName": "RollbackAllowAll", "policyVersionId": "1"}}
                ],
                LOGGING_CHECK: [{"account": run.sb.account_id}],
            }
        )
        actions = {
            SHARED_CHECK: ["QuarantineThingsAction", "DeactivateDeviceCertificateAction"],
            ca_check: ["DeactivateCaCertificateAction"],
            POLICY_CHECK: ["ReplacePolicyWithBlankAction"],
            LOGGING_CHECK: ["EnableErrorLoggingAction"],
        }
        planned = [
            task({"findingIds": audit.ids(check)}, {check: [run.wf.action(name) for name in names]})
            for check, names in actions.items()
        ]
        _report(run, run.wf.run(audit_plan(audit.task_id, *planned)))
        with run.sb.calls.pause():
            iot.remove_thing_from_thing_group(thingGroupName="rollback-sensors", thingName="rolled-back")
            iot.create_thing_group(thingGroupName="rollback-hand-picked")
            iot.add_thing_to_thing_group(thingGroupName="rollback-hand-picked", thingName="rolled-back")
        account = SandboxAccount(run.sb)
        stack = account.stack(run.stack.name)
        run.wf.reports()
        try:
            forced = roll_back(
                account, stack, RollbackOptions(audit.task_id, thing="rolled-back", force=True)
            )
            rest = roll_back(account, stack, RollbackOptions(audit.task_id, all=True))
            again = roll_back(account, stack, RollbackOptions(audit.task_id, all=True))
        except OperatorError as error:
            run.problems.append(f"the rollback failed: {error}")
            return
        done = (
            forced["forced"],
            rest["alreadyRestored"],
            rest["restored"],
            rest["failed"] + forced["failed"],
        )
        if done != (1, 1, 3, 0) or again["alreadyRestored"] != 4:
            run.problems.append(f"the rollback did not restore the audit: {forced['items']} {rest['items']}")
        if (forced["securityHubUpdated"] + rest["securityHubUpdated"], rest["securityHubNotUpdated"]) != (
            4,
            0,
        ):
            run.problems.append(f"the findings were not set back to NEW: {forced} {rest}")
        if len([m for m in run.wf.reports() if m.get("kind") == "rollback"]) != 3:
            run.problems.append("the rollback reports did not reach RemediationReportsTopic")
    finally:
        disable_security_hub(hub)


def _failed_execution(run: Run) -> None:
    run.sb.faults.add("iot", "StartAuditMitigationActionsTask", error="LimitExceededException", times=None)
    audit = run.wf.seed_audit({LOGGING_CHECK: [{"account": run.sb.account_id}]})
    planned = task(
        {"findingIds": audit.ids(LOGGING_CHECK)}, {LOGGING_CHECK: [run.wf.action("EnableErrorLoggingAction")]}
    )
    result = run.wf.run(audit_plan(audit.task_id, planned))
    if (result.status, result.get("error")) != ("FAILED", "Iot.LimitExceededException"):
        run.problems.append(f"execution {result.status} {result.get('error')}, not FAILED by the limit")
    ended = run.wf.reports(at_least=1, timeout=5.0)
    if [m.get("kind") for m in ended] != ["execution-ended-abnormally"]:
        run.problems.append(f"the failed execution was not reported on RemediationReportsTopic: {ended}")


# A permission's mutation test runs the first scenario that needs it: the ones that end well come
# first (cheapest first), since a scenario whose healthy outcome is a failure may fail the same way
# without the permission.
SCENARIOS: Final[Mapping[str, Callable[[Run], None]]] = {
    "rejected-message": _rejected_message,
    "policy-replacement": _policy_replacement,
    "finding-window": _finding_window,
    "reconciliation": _reconciliation,
    "quarantine-expiry": _quarantine_expiry,
    "audit": _audit,
    "approval-expired-by-pull": _approval_expired_by_pull,
    "quarantine-blocked": _quarantine_blocked,
    "leaked-slot": _leaked_slot,
    "failure-destination": _failure_destination,
    "failed-execution": _failed_execution,
    "security-hub-sync": _security_hub_sync,
    "rollback": _rollback,
}
# Parameters a scenario deploys with beside PARAMETERS.
SCENARIO_PARAMETERS: Final[Mapping[str, Mapping[str, Any]]] = {
    "security-hub-sync": {"SecurityHubSync": "Enabled"},
    # When the expiry function is refused, the approval ends by its own timeout instead, which the
    # scenario tells apart by the reason; six hours (about 22 s of wall clock) keeps that ending short.
    "approval-expired-by-pull": {"ApprovalExpirySeconds": 21600},
    "rollback": {"SecurityHubSync": "Enabled"},
}


@contextmanager
def running(name: str, template: Path = TEMPLATE) -> Iterator[Run]:
    """A fresh sandbox with `template` deployed and scenario `name` run in it (open until the end)."""
    scenario = SCENARIOS[name]
    with Sandbox(time_scale=TIME_SCALE) as sb:
        stack = sb.deploy(template, parameters={**PARAMETERS, **SCENARIO_PARAMETERS.get(name, {})})
        wf = Workflow(sb, stack)
        wf.subscribe_reports()
        run = Run(sb, stack, wf)
        try:
            scenario(run)
        except (LambdaFunctionError, TimeoutError) as error:
            run.problems.append(f"{type(error).__name__}: {error}")
        try:
            # What a scenario cut short left running ends before the sandbox closes.
            sb.settle(timeout=SETTLE_SECONDS)
        except TimeoutError as error:
            run.problems.append(f"{type(error).__name__}: {error}")
        yield run
