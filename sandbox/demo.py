"""`python -m sandbox demo` (`make demo`): the whole loop on the Device Defender workshop fleet.

Deploys template.yaml into a fresh sandbox with RemediationMode=Enforce, seeds the workshop fleet (two
sensors sharing one certificate under an allow-everything policy, logging off, one healthy sensor), runs
the stack's scheduled audit and lets its completion notification go SNS -> AuditEventsFunction ->
RemediationStateMachine. The policy group waits for approval: the demo approves it with `remediator
approve`, as an operator would, and the policy's blank version becomes its default. Prints the fleet
before and after with what the workflow verified per device, policy and account, the mitigation tasks
and the report that reached RemediationReportsTopic, then rolls one device back with `remediator rollback
--thing` and shows its settings equal to its "before" column again. Exit status 1 if an expected change did not happen (or an unexpected
one did) or the demo could not run, 0 otherwise. The handler's own logs and metrics go to a log file, or
with `-v` to stderr (sandbox.cli_output); a failure ends with one line, and `-v` adds its stack trace.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from sandbox.cli_output import add_output_arguments, operator_output
from sandbox.demo_approval import ApprovalRoundTrip, approve_waiting_group
from sandbox.demo_rollback import DeviceRollback, roll_back_device
from sandbox.demo_verification import NOT_TOUCHED, verification_by_subject
from sandbox.iam.reporting import denial_lines
from sandbox.iam.service_contexts import Readings
from sandbox.subscriptions import subscribe_queue

TEMPLATE: Final = Path(__file__).resolve().parent.parent / "template.yaml"
# Sandbox time runs 1000x faster: the audit, the 15 s status polls and the tasks take milliseconds.
TIME_SCALE: Final = 0.001
WAIT_SECONDS: Final = 45.0
SHARED_CHECK: Final = "DEVICE_CERTIFICATE_SHARED_CHECK"
POLICY_CHECK: Final = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
SHARED_DEVICES: Final = ("SensorDevice01", "SensorDevice02")
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class DemoError(Exception):
    """The demo could not run to its report."""


@dataclass(frozen=True)
class Setting:
    subject: str
    name: str
    value: str


def fleet_settings(iot: Any, things: Sequence[str]) -> list[Setting]:
    """What the report's reader cares about, per device and for the account, read through the IoT API."""
    settings: list[Setting] = []
    policies: dict[str, None] = {}
    for thing in things:
        [principal] = iot.list_thing_principals(thingName=thing)["principals"]
        certificate_id = principal.rsplit("/", 1)[-1]
        status = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]["status"]
        groups = sorted(
            g["groupName"] for g in iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]
        )
        settings.append(Setting(thing, f"certificate {certificate_id[:10]}", status))
        settings.append(Setting(thing, "thing groups", ", ".join(groups) or "-"))
        for policy in iot.list_attached_policies(target=principal)["policies"]:
            policies[policy["policyName"]] = None
    for policy in policies:
        described = iot.get_policy(policyName=policy)
        statements = json.loads(described["policyDocument"]).get("Statement", [])
        settings.append(Setting(f"policy {policy}", "default version", described["defaultVersionId"]))
        settings.append(Setting(f"policy {policy}", "default version statements", str(len(statements))))
    try:
        logging = iot.get_v2_logging_options()
    except iot.exceptions.NotConfiguredException:
        level = "not configured (off)"
    else:
        level = "DISABLED" if logging.get("disableAllLogs") else str(logging.get("defaultLogLevel"))
    settings.append(Setting("account", "logging level", level))
    return settings


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def before_after(before: list[Setting], after: list[Setting], verification: dict[str, str]) -> str:
    now = {(s.subject, s.name): s.value for s in after}
    rows = [("DEVICE / RESOURCE", "SETTING", "BEFORE", "AFTER", "CHANGE", "VERIFIED")]
    for setting in before:
        value = now.get((setting.subject, setting.name), "?")
        rows.append(
            (
                setting.subject,
                setting.name,
                setting.value,
                value,
                "changed" if value != setting.value else "",
                verification.get(setting.subject, NOT_TOUCHED),
            )
        )
    return table(rows)


def task_lines(report: dict[str, Any]) -> str:
    rows = [("TASK", "MODE", "STATUS", "CHECK", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")]
    for task in report["tasks"]:
        statistics = task.get("statistics") or {check: {} for check in task["checks"]}
        for check, counts in statistics.items():
            rows.append(
                (
                    task["taskId"],
                    task["mode"],
                    task["status"],
                    check,
                    *(str(counts.get(key, "-")) for key in ("succeeded", "failed", "skipped", "canceled")),
                )
            )
    return table(rows)


def rollback_table(run: DemoRun) -> str:
    device = run.rollback.device
    rows = [("DEVICE", "SETTING", "BEFORE", "AFTER THE RUN", "AFTER THE ROLLBACK")]
    after = {(s.subject, s.name): s.value for s in run.after}
    for setting in run.before:
        if setting.subject == device:
            rows.append(
                (
                    device,
                    setting.name,
                    setting.value,
                    after.get((device, setting.name), "?"),
                    run.rollback.settings.get(setting.name, "?"),
                )
            )
    return table(rows)


@dataclass
class DemoRun:
    fleet: Any
    before: list[Setting]
    after: list[Setting]
    report: dict[str, Any]
    report_message: dict[str, Any]
    audit_task_id: str
    execution_status: str
    seconds_to_report: float
    quarantine_group: str
    quarantine_policy: str
    quarantine_group_policies: list[str]
    # What IAM refused during the run (sandbox.iam), one line each: any refusal fails the demo.
    denied: list[str]
    approval: ApprovalRoundTrip
    # Per device, policy and "account": the verification of every finding that reached it.
    verification: dict[str, str]
    rollback: DeviceRollback


def run_demo(template: Path = TEMPLATE, readings: Readings | None = None) -> DemoRun:
    """The workshop audit in a fresh sandbox; `readings` picks how the sandbox plays what AWS leaves
    unconfirmed (sandbox.iam.service_contexts)."""
    from sandbox import Sandbox
    from sandbox.fleet import seed_fleet

    with Sandbox(time_scale=TIME_SCALE, readings=readings) as sandbox:
        parameters = {
            "RemediationMode": "Enforce",
            "ManageAccountAuditConfiguration": "true",
            "LogLevel": "WARNING",
        }
        stack = sandbox.deploy(template, parameters=parameters)
        iot = sandbox.client("iot")
        reports = _subscribe_queue(sandbox, stack.physical_ids["RemediationReportsTopic"])
        fleet = seed_fleet("workshop", emulator=sandbox.emulator, iot=iot)
        things = list(fleet.things)
        before = fleet_settings(iot, things)
        audit_task_id = sandbox.emulator.run_scheduled_audit(stack.physical_ids["ScheduledAudit"])
        denied = _refusals(sandbox, stack)
        notified_at = _wait_for(
            lambda: _notification_sent(sandbox, audit_task_id), "the audit notification", denied
        )
        approval = approve_waiting_group(
            sandbox,
            stack.name,
            reports,
            audit_task_id,
            lambda probe, what: _wait_for(lambda: _after_handler(sandbox, probe), what, denied),
        )
        execution = _wait_for(
            lambda: _finished_execution(sandbox, stack, audit_task_id), "the remediation run", denied
        )
        message = _wait_for(
            lambda: _receive(sandbox, reports), "the report on RemediationReportsTopic", denied
        )
        seconds = time.monotonic() - notified_at
        report = json.loads(execution["output"]) if execution.get("output") else {}
        group_arn = iot.describe_thing_group(thingGroupName=stack.physical_ids["QuarantineThingGroup"])[
            "thingGroupArn"
        ]
        after = fleet_settings(iot, things)
        verification = verification_by_subject(
            sandbox.client("dynamodb"), stack.physical_ids["RemediationTable"], audit_task_id
        )
        rollback = roll_back_device(sandbox, stack.name, audit_task_id, lambda: fleet_settings(iot, things))
        return DemoRun(
            fleet=fleet,
            before=before,
            after=after,
            report=report,
            report_message=message,
            audit_task_id=audit_task_id,
            execution_status=str(execution["status"]),
            seconds_to_report=seconds,
            quarantine_group=stack.physical_ids["QuarantineThingGroup"],
            quarantine_policy=stack.physical_ids["QuarantinePolicy"],
            quarantine_group_policies=[
                p["policyName"] for p in iot.list_attached_policies(target=group_arn)["policies"]
            ],
            denied=denied(),
            approval=approval,
            verification=verification,
            rollback=rollback,
        )


def _refusals(sandbox: Any, stack: Any) -> Callable[[], list[str]]:
    return lambda: denial_lines(sandbox.iam.denials, stack.physical_ids)


def _wait_for(probe: Callable[[], Any], what: str, denied: Callable[[], list[str]]) -> Any:
    """`probe()`'s first answer; a refusal by IAM ends the wait at once, naming the denied call."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = probe()
        if found is not None:
            return found
        refusals = denied()
        if refusals:
            raise DemoError(f"no {what}: IAM refused {'; '.join(refusals)}")
        if time.monotonic() > deadline:
            raise DemoError(f"no {what} after {WAIT_SECONDS:.0f} s")
        time.sleep(0.01)


def _raise_handler_failure(sandbox: Any) -> None:
    """Raises the first error AuditEventsFunction raised: Lambda would retry it and then leave the event
    in the on-failure queue, so no remediation run will come."""
    for invocation in sandbox.lambdas.invocations:
        if not invocation.succeeded:
            payload = invocation.error_payload()
            raise DemoError(
                f"{invocation.function_name} raised {payload['errorType']}: {payload['errorMessage']}"
            )


def _after_handler(sandbox: Any, probe: Callable[[], Any]) -> Any:
    """`probe()`, unless the handler already failed (then no run will come)."""
    _raise_handler_failure(sandbox)
    return probe()


def _notification_sent(sandbox: Any, audit_task_id: str) -> float | None:
    sandbox.emulator.advance()
    for published in sandbox.emulator.published:
        if (
            published.kind == "audit"
            and published.error is None
            and published.payload.get("taskId") == audit_task_id
        ):
            return time.monotonic()
    return None


def _finished_execution(sandbox: Any, stack: Any, audit_task_id: str) -> dict[str, Any] | None:
    _raise_handler_failure(sandbox)
    sfn = sandbox.client("stepfunctions")
    arn = stack.physical_ids["RemediationStateMachine"]
    for summary in sfn.list_executions(stateMachineArn=arn)["executions"]:
        if audit_task_id in summary["name"] and summary["status"] in _TERMINAL:
            described: dict[str, Any] = sfn.describe_execution(executionArn=summary["executionArn"])
            return described
    return None


def _subscribe_queue(sandbox: Any, topic_arn: str) -> str:
    sqs = sandbox.client("sqs")
    queue_url: str = sqs.create_queue(QueueName="demo-remediation-reports")["QueueUrl"]
    subscribe_queue(sqs, sandbox.client("sns"), queue_url, topic_arn)
    return queue_url


def _receive(sandbox: Any, queue_url: str) -> dict[str, Any] | None:
    messages = (
        sandbox.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    for message in messages:
        body: dict[str, Any] = json.loads(message["Body"])
        if body.get("kind") == "remediation-report":
            return body
    return None


def expectations(run: DemoRun) -> list[tuple[str, bool]]:
    """The changes the workshop audit must lead to, and the one it must not."""
    before = {(s.subject, s.name): s.value for s in run.before}
    after = {(s.subject, s.name): s.value for s in run.after}
    checks: list[tuple[str, bool]] = []
    shared = {run.fleet.device(name).certificate_id for name in SHARED_DEVICES}
    [certificate] = shared
    for name in SHARED_DEVICES:
        groups = after.get((name, "thing groups"), "").split(", ")
        checks.append(
            (f"{name} is in the quarantine group {run.quarantine_group}", run.quarantine_group in groups)
        )
    checks.append(
        (
            f"the deny-all policy {run.quarantine_policy} is attached to the quarantine group",
            run.quarantine_policy in run.quarantine_group_policies,
        )
    )
    checks.append(
        (
            f"the shared certificate {certificate[:10]} is INACTIVE",
            all(after.get((n, f"certificate {certificate[:10]}")) == "INACTIVE" for n in SHARED_DEVICES),
        )
    )
    healthy = [t for t in run.fleet.things if t not in SHARED_DEVICES]
    checks.append(
        (
            "healthy devices are untouched",
            all(before.get(key) == after.get(key) for key in before if key[0] in healthy),
        )
    )
    checks.append(("logging is enabled at ERROR", after.get(("account", "logging level")) == "ERROR"))
    checks.append(
        ("the policy group waited for approval", run.approval.request.get("checks") == [POLICY_CHECK])
    )
    checks.append(("the operator approved it with the command line", run.approval.exit_code == 0))
    statements = [
        key for key in before if key[0].startswith("policy ") and key[1] == "default version statements"
    ]
    blanked = [key for key in statements if after.get(key) == "0" != before[key]]
    checks.append(("one policy's default version is now the blank one", len(blanked) == 1))
    checks.append(
        (
            "the other policies are untouched",
            all(before[k] == after.get(k) for k in statements if k not in blanked),
        )
    )
    approved = [t for t in run.report.get("tasks", []) if POLICY_CHECK in t["checks"]]
    checks.append(
        (
            "the report records who approved the policy group",
            [t.get("approval", {}).get("decision") for t in approved] == ["approved"],
        )
    )
    changed = {key[0] for key in before if before[key] != after.get(key)}
    checks.append(
        (
            "every changed device, policy and the account setting is verified",
            bool(changed) and all(run.verification.get(subject) == "verified" for subject in changed),
        )
    )
    checks.append(
        (
            "nothing untouched was verified as changed",
            all(subject in changed for subject in run.verification),
        )
    )
    device = run.rollback.device
    checks.append(
        (
            f"the rollback of {device} alone was refused: another device holds its certificate",
            run.rollback.refused.exit_code == 3 and run.rollback.refusal.get("refusedShared") == 1,
        )
    )
    checks.append(
        (
            f"the operator rolled {device}'s finding back with the command line",
            run.rollback.ran is not run.rollback.refused and run.rollback.ran.exit_code == 0,
        )
    )
    device_before = {name: value for (subject, name), value in before.items() if subject == device}
    checks.append(
        (
            f"{device}'s settings after the rollback equal its before column",
            device_before != {key[1]: after.get(key) for key in before if key[0] == device}
            and run.rollback.settings == device_before,
        )
    )
    checks.append(("the workflow succeeded", run.execution_status == "SUCCEEDED"))
    checks.append(("the report says full-success", run.report_message.get("result") == "full-success"))
    checks.append(("the report on the topic is the execution's output", run.report_message == run.report))
    return checks


def render(run: DemoRun, out: TextIO) -> bool:
    print(
        "IoT Audit Remediator demo: the Device Defender workshop fleet in the sandbox (RemediationMode=Enforce)",
        file=out,
    )
    print(
        f"\nAudit {run.audit_task_id} completed; its notification went SNS -> AuditEventsFunction -> workflow.\n",
        file=out,
    )
    print("Fleet before and after", file=out)
    print(before_after(run.before, run.after, run.verification), file=out)
    print("\nApproval request published to RemediationReportsTopic", file=out)
    print(f"  {run.approval.request.get('summary', '')}", file=out)
    print(f"\n$ {run.approval.command}", file=out)
    print(f"  {run.approval.output}", file=out)
    print("\nMitigation tasks", file=out)
    print(task_lines(run.report), file=out)
    print("\nReport published to RemediationReportsTopic", file=out)
    print(json.dumps(run.report_message, indent=2), file=out)
    print(f"\nRollback of {run.rollback.device}\n$ {run.rollback.refused.command}", file=out)
    refusal = run.rollback.refusal
    print(f"  {refusal.get('outcome', '?')}: {'; '.join(refusal.get('details', []))}", file=out)
    print(f"$ {run.rollback.ran.command}", file=out)
    print("\n".join(f"  {line}" for line in run.rollback.ran.output.splitlines()), file=out)
    print(rollback_table(run), file=out)
    print("\nExpected changes", file=out)
    checks = expectations(run)
    for description, held in checks:
        print(f"  {'ok  ' if held else 'FAIL'} {description}", file=out)
    if run.denied:
        print("\nRefused by IAM (the stack's policies would stop this in AWS)", file=out)
        for line in run.denied:
            print(f"  FAIL {line}", file=out)
    ok = all(held for _, held in checks) and not run.denied
    verdict = "every expected change happened" if ok else "SOME EXPECTED CHANGES DID NOT HAPPEN"
    print(f"\n{verdict}; audit completion to report: {run.seconds_to_report:.2f} s", file=out)
    return ok


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox demo", description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="default: template.yaml")
    add_output_arguments(parser, "demo")
    arguments = parser.parse_args(list(argv))
    with operator_output(verbose=arguments.verbose, log_file=arguments.log_file) as out:
        try:
            run = run_demo(arguments.template)
        except Exception as error:
            if arguments.verbose:
                traceback.print_exception(error, file=sys.stderr)
            else:
                print(
                    f"demo: the handler's logs are in {arguments.log_file}; -v (make V=1) shows them here",
                    file=sys.stderr,
                )
            line = str(error) if isinstance(error, DemoError) else f"{type(error).__name__}: {error}"
            print(f"demo: {line}", file=sys.stderr)
            return 1
        return 0 if render(run, out) else 1
