"""Parse + plan time per notification (17 checks), cold import of the handler module, peak memory.

Goal: parse + plan p50 under 1 ms. Times are wall-clock on a shared machine: read the ratio of p95 to
p50 and the order of magnitude, not the last digit.
"""

import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.parser import envelopes, parse

from audit_remediator.checks import KNOWN_CHECKS
from audit_remediator.models.notifications import AuditCompletionNotification, InboundMessage
from audit_remediator.planner import PlanSettings, plan_audit
from audit_remediator.rules import load_rules

ROUNDS = 2000
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_EVENT = ROOT / "events" / "audit_events" / "scheduled-non-compliant.json"


def _audit_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text())
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["auditDetails"] = [
        {
            "checkName": name,
            "checkRunStatus": "COMPLETED_NON_COMPLIANT",
            "nonCompliantResourcesCount": 3,
            "totalResourcesCount": 100,
        }
        for name in sorted(KNOWN_CHECKS)
    ]
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def _parse(event: dict[str, Any]) -> AuditCompletionNotification:
    """The notification out of the SNS event, read as the intake reads it: Powertools' SNS envelope
    and the inbound message union."""
    # An Annotated union is a valid pydantic model for Powertools' parser, but not a `type` to mypy.
    message = parse(event=event, model=InboundMessage, envelope=envelopes.SnsEnvelope)[0]  # type: ignore[call-overload]
    if not isinstance(message, AuditCompletionNotification):
        raise TypeError(f"{SAMPLE_EVENT.name} does not hold an audit-completion notification")
    return message


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _cold_import_ms() -> float:
    code = (
        "import importlib.util,time,sys;t=time.perf_counter();"
        "s=importlib.util.spec_from_file_location('app','functions/audit_events/app.py');"
        "m=importlib.util.module_from_spec(s);s.loader.exec_module(m);"
        "print((time.perf_counter()-t)*1000)"
    )
    runs = []
    for _ in range(5):
        output = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={
                "PYTHONPATH": f"{ROOT / 'layers' / 'core'}",
                "PATH": "/usr/bin:/bin",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        ).stdout
        runs.append(float(output.strip().splitlines()[-1]))
    return statistics.median(runs)


def run() -> dict[str, Any]:
    rules = load_rules()
    settings = PlanSettings(remediation_mode="Enforce", action_name_prefix="iot-audit-remediator-")
    event = _audit_event()
    for _ in range(100):
        plan_audit(_parse(event), rules, settings)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        plan = plan_audit(_parse(event), rules, settings)
        samples.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    plan_audit(_parse(event), rules, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "parse_plan_17_checks_p50_ms": round(_percentile(samples, 0.5), 4),
        "parse_plan_17_checks_p95_ms": round(_percentile(samples, 0.95), 4),
        "tasks_planned_for_17_checks": len(plan.tasks),
        "handler_cold_import_ms": round(_cold_import_ms(), 1),
        "parse_plan_peak_memory_kib": round(peak / 1024, 1),
    }
