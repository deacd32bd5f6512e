"""The workflow's cost, counted in the sandbox (template.yaml, the real handler and ASL, the emulator).

- IoT API calls to remediate one audit with N non-compliant findings over 3 checks, against a per-finding
  baseline of one StartAuditMitigationActionsTask per finding (N calls). Goal: 1 start call whatever N.
- State transitions and history events per mitigation task lasting 1, 10 and 60 minutes: measured with
  GetExecutionHistory in a sandbox whose time runs 100x faster (a 60-minute task takes 36 s; each real
  millisecond the sandbox spends counts as 0.1 s, so a read or two may be saved), and computed from the
  ASL's own wait expression with the template's defaults (waits of 30, 60, 120, 240, 480 s, then every
  900 s). Goal: at most 30 transitions for a 60-minute task.
- Wall time of `make demo` from the audit-completion notification to the report on the topic.
"""

import time
from collections import Counter
from typing import Any

import jsonata  # type: ignore[import-untyped]

from sandbox import Sandbox
from sandbox.workflow import (
    ASL,
    PARAMETERS,
    TEMPLATE,
    Workflow,
    audit_plan,
    task,
)

TIME_SCALE = 0.001
TASK_TIME_SCALE = 0.01
FINDING_COUNTS = (10, 1_000, 100_000)
# Three checks under the default rule (PUBLISH_FINDING_TO_SNS, no cap): one action list, so one task.
CHECKS = (
    "DEVICE_CERTIFICATE_EXPIRING_CHECK",
    "DEVICE_CERTIFICATE_AGE_CHECK",
    "CA_CERTIFICATE_EXPIRING_CHECK",
)
TASK_MINUTES = (1, 10, 60)


def _identifiers(check: str, count: int) -> list[dict[str, str]]:
    member = "caCertificateId" if check.startswith("CA_") else "deviceCertificateId"
    return [{member: f"{n:064x}"} for n in range(count)]


def _calls_for_one_audit(wf: Workflow, findings: int) -> dict[str, Any]:
    shares = [findings // len(CHECKS) + (1 if i < findings % len(CHECKS) else 0) for i in range(len(CHECKS))]
    audit = wf.seed_audit(
        {check: _identifiers(check, share) for check, share in zip(CHECKS, shares, strict=True)}
    )
    wf.sb.calls.clear()
    started = time.perf_counter()
    outcome = wf.deliver(wf.audit_notification(audit))
    result = wf.wait(wf.execution_arn(outcome["execution"]["name"]), timeout=900)
    seconds = time.perf_counter() - started
    report = result.output_json
    iot = Counter(call.operation for call in wf.sb.calls.of("iot"))
    assert report["totals"]["findings"]["succeeded"] == findings, report["totals"]
    return {
        "start_calls": iot["StartAuditMitigationActionsTask"],
        "iot_calls": sum(iot.values()),
        "baseline_start_calls": findings,
        "seconds": round(seconds, 2),
    }


def _transitions_per_task(wf: Workflow, minutes: int) -> dict[str, int]:
    wf.sb.emulator.mitigation_task_seconds = minutes * 60
    audit = wf.seed_audit({"LOGGING_DISABLED_CHECK": [{"account": wf.sb.account_id}]})
    planned = task(
        {"findingIds": audit.ids("LOGGING_DISABLED_CHECK")},
        {"LOGGING_DISABLED_CHECK": [wf.action("EnableErrorLoggingAction")]},
    )
    with_task = wf.run(audit_plan(audit.task_id, planned), timeout=300)
    without = wf.run(audit_plan(audit.task_id), timeout=300)
    entered = with_task.state_transitions - without.state_transitions
    return {
        "state_transitions": entered,
        "history_events": len(with_task.history) - len(without.history),
        "status_reads": sum(
            1
            for e in with_task.history
            if e["type"] == "TaskScheduled"
            and e["taskScheduledEventDetails"]["resource"] == "describeAuditMitigationActionsTask"
        ),
    }


def _poll_defaults() -> tuple[int, int]:
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    declared = yaml_parse(TEMPLATE.read_text())["Parameters"]
    return int(declared["PollInitialWaitSeconds"]["Default"]), int(declared["PollMaxWaitSeconds"]["Default"])


def _computed_transitions(minutes: int, initial: int, maximum: int) -> int:
    """Prepare, Dry run or enforce?, Start and Record, plus Wait, Read and Finished? per status read."""
    import json

    wait = json.loads(ASL.read_text())["States"]["Run mitigation tasks"]["ItemProcessor"]["States"][
        "Wait for mitigation task"
    ]["Seconds"]
    text = wait.replace("${PollInitialWaitSeconds}", str(initial)).replace(
        "${PollMaxWaitSeconds}", str(maximum)
    )
    expression = jsonata.Jsonata(text.removeprefix("{%").removesuffix("%}"))
    elapsed, reads = 0, 0
    while elapsed < minutes * 60:
        elapsed += int(expression.evaluate(None, {"polls": reads}))
        reads += 1
    return 4 + 3 * reads


def run() -> dict[str, Any]:
    from sandbox.demo import run_demo

    figures: dict[str, Any] = {}
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        wf = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        for findings in FINDING_COUNTS:
            counted = _calls_for_one_audit(wf, findings)
            for key, value in counted.items():
                figures[f"audit_{findings}_findings_{key}"] = value
    with Sandbox(time_scale=TASK_TIME_SCALE) as sandbox:
        wf = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        for minutes in TASK_MINUTES:
            measured = _transitions_per_task(wf, minutes)
            for key, value in measured.items():
                figures[f"task_{minutes}_min_{key}"] = value
            figures[f"task_{minutes}_min_state_transitions_computed"] = _computed_transitions(
                minutes, *_poll_defaults()
            )
    demo = run_demo()
    figures["demo_audit_completion_to_report_seconds"] = round(demo.seconds_to_report, 2)
    figures["demo_result"] = demo.report_message.get("result")
    return figures
