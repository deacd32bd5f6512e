"""The commands' answers as rich tables for people (each command's --json prints the same data)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

# Ids are what an operator copies into the next command: never cut, whatever the terminal's width.
_IDS = frozenset({"Audit task", "Task", "Resource"})


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in _IDS, overflow="fold")
    return table


def _short(moment: str | None) -> str:
    return (moment or "")[:19].replace("T", " ")


def _total(statistics: dict[str, Any], name: str) -> int:
    return sum(int(counts.get(name) or 0) for counts in statistics.values() if isinstance(counts, dict))


def status(console: Console, document: dict[str, Any]) -> None:
    switch = document["killSwitch"]
    if "unavailable" in switch:
        console.print(f"Kill switch: unknown ({switch['unavailable']})")
    else:
        console.print(
            f"Kill switch: [bold]{switch['value']}[/bold] ({switch['changed_by'] or 'never changed'})"
        )
    table = _table(
        f"Recent runs of {document['stack']} ({document['region']})",
        *("Audit task", "Kind", "Status", "Result", "Started", "Stopped"),
    )
    for run in document["runs"]:
        table.add_row(
            run["auditTaskId"] or "",
            run["kind"] or "",
            run["status"],
            run["result"] or "",
            _short(run["startDate"]),
            _short(run["stopDate"]),
        )
    console.print(table)
    approvals = document.get("pendingApprovals", [])
    if isinstance(approvals, list) and approvals:
        waiting = _table(
            "Pending approvals (remediator approve|reject AUDIT_TASK_ID TASK)",
            *("Audit task", "Task", "Checks", "Findings", "Devices", "Why", "Expires"),
        )
        for item in approvals:
            impact = item.get("impact") or {}
            waiting.add_row(
                item["auditTaskId"],
                item["taskId"],
                ", ".join(item["checks"]),
                str(impact.get("findings", "")),
                str(impact.get("affectedDevices", "") if impact.get("affectedDevices") is not None else ""),
                str(impact.get("reason", "")),
                _short(item["expiresAt"]),
            )
        console.print(waiting)
    elif isinstance(approvals, dict):
        console.print(f"Pending approvals: unknown ({approvals.get('unavailable', '')})")
    else:
        console.print("Pending approvals: none")


def history(console: Console, document: dict[str, Any]) -> None:
    console.print(f"Audit [bold]{document['auditTaskId']}[/bold]")
    if document["decisions"]:
        decisions = _table("Decisions", "Decision", "Reason", "Recorded at")
        for decision in document["decisions"]:
            decisions.add_row(
                str(decision.get("decision", "")), str(decision.get("reason", "")), decision["recordedAt"]
            )
        console.print(decisions)
    if document["owners"]:
        owners = _table("Checks and who handles them", "Check", "Handled by")
        for check, owner in sorted(document["owners"].items()):
            owners.add_row(check, owner)
        console.print(owners)
    tasks = _table(
        "Mitigation tasks",
        *("Task", "Mode", "Status", "Checks", "Succeeded", "Failed", "Skipped", "Canceled"),
    )
    for task in document["tasks"]:
        statistics = task["statistics"]
        tasks.add_row(
            task["taskId"],
            task["mode"],
            task["status"],
            ", ".join(task["checks"]),
            *(str(_total(statistics, name)) for name in ("succeeded", "failed", "skipped", "canceled")),
        )
    console.print(tasks)
    summaries = _table("Runs", "Result", "Findings", "Capped", "Recorded at", "Execution")
    for summary in document["summaries"]:
        findings = summary["totals"].get("findings", {})
        summaries.add_row(
            summary["result"],
            str(findings.get("total", "")),
            str(len(summary["capped"])),
            _short(summary["recordedAt"]),
            summary["executionArn"].rsplit(":", 1)[-1],
        )
    console.print(summaries)


def exclusions(console: Console, items: list[dict[str, Any]]) -> None:
    table = _table(
        "Excluded resources (Device Defender audit suppressions)", "Check", "Resource", "Until", "Reason"
    )
    for item in items:
        until = "indefinitely" if item["suppressIndefinitely"] else _short(item["expirationDate"])
        table.add_row(item["checkName"], item["resource"], until, item["description"])
    console.print(table)


def reconciliation(console: Console, report: dict[str, Any]) -> None:
    console.print(
        f"Audits completed from {_short(report['from'])} to {_short(report['to'])}: "
        f"[bold]{report['seen']}[/bold] seen, {report['alreadyDecided']} already decided, "
        f"[bold]{len(report['reconciled'])}[/bold] reconciled now, {len(report['held'])} held by the kill "
        f"switch, {len(report['paused'])} left while it is pulled, [bold]{len(report['errors'])}[/bold] errors"
    )
    if report["reconciled"]:
        reconciled = _table(
            "Reconciled now (their notification never arrived)", "Audit task", "Decision", "Reason"
        )
        for item in report["reconciled"]:
            reconciled.add_row(item["auditTaskId"], item["decision"], item["reason"])
        console.print(reconciled)
    if report["errors"]:
        errors = _table("Not reconciled (the next sweep tries again)", "Audit task", "Error")
        for item in report["errors"]:
            errors.add_row(item["auditTaskId"] or "(listing)", item["error"])
        console.print(errors)
