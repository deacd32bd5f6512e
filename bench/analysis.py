"""The pre-start analysis's cost, counted in the sandbox: IoT calls PreStartAnalysisFunction makes for one
group of N device-certificate findings (each certificate used by one thing), per group and per 1,000
findings, and its wall time. Goal: linear in the findings (one ListPrincipalThings per certificate, one
ListAuditFindings page per 250 findings), constant in the rest (suppressions, protected groups)."""

import time
from collections import Counter
from typing import Any

from sandbox import Sandbox
from sandbox.workflow import PARAMETERS, TEMPLATE, Workflow, audit_plan, task

TIME_SCALE = 0.001
FINDING_COUNTS = (10, 1_000)
CHECK = "DEVICE_CERTIFICATE_SHARED_CHECK"
ANALYSIS_CALLS = frozenset(
    {
        "ListAuditFindings",
        "ListAuditSuppressions",
        "ListThingsInThingGroup",
        "ListPrincipalThings",
        "ListTargetsForPolicy",
        "ListCertificatesByCA",
        "ListRelatedResourcesForAuditFinding",
        "ListThings",
    }
)


def _one_group(wf: Workflow, findings: int) -> dict[str, Any]:
    audit = wf.seed_audit({CHECK: [{"deviceCertificateId": f"{n:064x}"} for n in range(findings)]})
    planned = task(
        {
            "auditTaskId": audit.task_id,
            "auditCheckToReasonCodeFilter": {CHECK: ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"]},
        },
        {CHECK: [wf.action("QuarantineThingsAction"), wf.action("DeactivateDeviceCertificateAction")]},
    )
    wf.sb.calls.clear()
    started = time.perf_counter()
    result = wf.run(audit_plan(audit.task_id, planned), timeout=900)
    seconds = time.perf_counter() - started
    calls = Counter(c.operation for c in wf.sb.calls.of("iot") if c.operation in ANALYSIS_CALLS)
    [group] = result.output_json["analysis"]
    return {
        "analysis_iot_calls": sum(calls.values()),
        "analysis_iot_calls_per_1000_findings": round(sum(calls.values()) * 1000 / findings),
        "list_principal_things_calls": calls["ListPrincipalThings"],
        "affected_devices": group["affectedDevices"],
        "group_status": group["status"],
        "execution_seconds": round(seconds, 2),
    }


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        wf = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        for findings in FINDING_COUNTS:
            for key, value in _one_group(wf, findings).items():
                figures[f"group_{findings}_findings_{key}"] = value
    return figures
