"""`python -m sandbox audit`: seed a fleet, run an on-demand Device Defender audit, print the findings.

Everything runs in-process in a sandbox (moto and the Device Defender emulator, no stack deployed),
through the same boto3 calls an operator would make against AWS: enable the checks, start the audit, poll it, page through
its findings.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any, Final

from sandbox.device_defender import DeviceDefenderEmulator
from sandbox.fleet import EVALUATED_CHECKS, SCENARIOS, resource_label, seed_fleet

REGION: Final = "us-east-1"
AUDIT_ROLE: Final = "arn:aws:iam::{account}:role/iot-device-defender-audit"
TERMINAL: Final = frozenset({"COMPLETED", "FAILED", "CANCELED"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox audit", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="workshop", help="fleet to seed")
    parser.add_argument(
        "--check",
        dest="checks",
        action="append",
        metavar="CHECK_NAME",
        help="audit check to run (repeatable; default: every check the emulator evaluates)",
    )
    parser.add_argument(
        "--audit-seconds", type=float, default=0.5, help="how long the emulated audit takes (default 0.5)"
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead of a table")
    return parser


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _wait_for(iot: Any, task_id: str, poll_seconds: float) -> dict[str, Any]:
    while True:
        task: dict[str, Any] = iot.describe_audit_task(taskId=task_id)
        if task["taskStatus"] in TERMINAL:
            return task
        time.sleep(poll_seconds)


def run_audit(
    scenario: str, checks: Sequence[str], audit_seconds: float
) -> tuple[dict[str, Any], list[Any], str]:
    """Seeds `scenario` in a fresh sandbox, audits it and returns (DescribeAuditTask, findings, task id)."""
    from sandbox import Sandbox

    with Sandbox(region=REGION, emulator_options={"audit_seconds": audit_seconds}) as sb:
        emulator: DeviceDefenderEmulator | None = sb.emulator
        if emulator is None:
            raise RuntimeError("the sandbox started without the Device Defender emulator")
        iot = sb.client("iot")
        seed_fleet(scenario, emulator=emulator, iot=iot)
        iot.update_account_audit_configuration(
            roleArn=AUDIT_ROLE.format(account=emulator.account_id),
            auditCheckConfigurations={check: {"enabled": True} for check in checks},
        )
        task_id: str = iot.start_on_demand_audit_task(targetCheckNames=list(checks))["taskId"]
        task = _wait_for(iot, task_id, poll_seconds=min(0.1, audit_seconds) or 0.01)
        findings = [
            finding
            for page in iot.get_paginator("list_audit_findings").paginate(taskId=task_id)
            for finding in page["findings"]
        ]
        return task, findings, task_id


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    checks = list(dict.fromkeys(args.checks or EVALUATED_CHECKS))
    task, findings, task_id = run_audit(args.scenario, checks, args.audit_seconds)
    if args.json:
        print(
            json.dumps(
                {"taskId": task_id, "taskStatus": task["taskStatus"], "findings": findings}, default=str
            )
        )
        return 0
    if findings:
        rows = [("CHECK", "SEVERITY", "RESOURCE", "REASON CODE")]
        for finding in findings:
            resource = finding["nonCompliantResource"]
            label = resource_label(resource["resourceIdentifier"])
            suppressed = " (suppressed)" if finding.get("isSuppressed") else ""
            rows.append(
                (
                    finding["checkName"],
                    finding["severity"],
                    f"{resource['resourceType']} {label}{suppressed}",
                    finding["reasonForNonComplianceCode"],
                )
            )
        print(_table(rows))
        print()
    statistics = task["taskStatistics"]
    print(
        f"Audit {task_id} {task['taskStatus']} (scenario {args.scenario}): "
        f"{statistics['nonCompliantChecks']} of {statistics['totalChecks']} checks non-compliant, "
        f"{len(findings)} finding{'s' if len(findings) != 1 else ''}."
    )
    return 0
