"""Parse + plan time per notification (17 checks), the handler's cold import against its floor, peak memory.

Goal: parse + plan p50 under 1 ms. Times are wall-clock on a shared machine: read the ratio of p95 to
p50 and the order of magnitude, not the last digit.
"""

import json
import time
import tracemalloc
from typing import Any

from audit_remediator.checks import KNOWN_CHECKS
from audit_remediator.inbound import parse_message
from audit_remediator.models.notifications import AuditCompletionNotification
from audit_remediator.planner import PlanSettings, plan_audit
from audit_remediator.rules import load_rules
from bench import cold_import

ROUNDS = 2000


def _audit_message() -> str:
    """The sample scheduled audit with every known check non-compliant, as SNS carries it."""
    path = cold_import.ROOT / "events" / "audit_events" / "scheduled-non-compliant.json"
    message = json.loads(json.loads(path.read_text())["Records"][0]["Sns"]["Message"])
    message["auditDetails"] = [
        {
            "checkName": name,
            "checkRunStatus": "COMPLETED_NON_COMPLIANT",
            "nonCompliantResourcesCount": 3,
            "totalResourcesCount": 100,
        }
        for name in sorted(KNOWN_CHECKS)
    ]
    return json.dumps(message)


def _parsed(text: str) -> AuditCompletionNotification:
    message = parse_message(text)
    assert isinstance(message, AuditCompletionNotification)
    return message


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run() -> dict[str, Any]:
    rules = load_rules()
    settings = PlanSettings(remediation_mode="Enforce", action_name_prefix="iot-audit-remediator-")
    text = _audit_message()
    for _ in range(100):
        plan_audit(_parsed(text), rules, settings)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        plan = plan_audit(_parsed(text), rules, settings)
        samples.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    plan_audit(_parsed(text), rules, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "parse_plan_17_checks_p50_ms": round(_percentile(samples, 0.5), 4),
        "parse_plan_17_checks_p95_ms": round(_percentile(samples, 0.95), 4),
        "tasks_planned_for_17_checks": len(plan.tasks),
        "parse_plan_peak_memory_kib": round(peak / 1024, 1),
        **cold_import.measure(),
    }
