"""Findings' lineage for people: one block per finding, each id on a line of its own and never cut, so an
operator can copy it into the next command (the --json of `remediator history` prints the same records)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape


def _lines(record: dict[str, Any], *, with_audit: bool) -> list[str]:
    lines = [f"[bold]{escape(record['findingId'])}[/bold]  {escape(record['check'])}"]
    if with_audit:
        lines.append(f"  recorded     {escape(record['recordedAt'])} (audit {escape(record['auditTaskId'])})")
    lines.append(f"  resource     {escape(record['resource'])}")
    if record.get("foundAt"):
        lines.append(f"  found        {escape(record['foundAt'])}")
    lines.append(
        f"  task         {escape(record['taskId'])}  IoT: {escape(record.get('iotStatus') or 'not read')}"
    )
    result = record.get("verification") or "not checked"
    lines.append(f"  verification {escape(result)}")
    if result == "not-verified":
        for reason in record.get("reasons") or []:
            lines.append(f"    - {escape(str(reason))}")
        lines.append(f"    observed {escape(json.dumps(record.get('observed'), sort_keys=True))}")
    rollback = record.get("rollback")
    if rollback:
        lines.append(
            f"  rollback     {escape(str(rollback.get('rollbackResult', '')))} by "
            f"{escape(str(rollback.get('rolledBackBy', '')))} at {escape(str(rollback.get('rolledBackAt', '')))}"
        )
        if "rollbackObserved" in rollback:
            lines.append(f"    observed {escape(json.dumps(rollback['rollbackObserved'], sort_keys=True))}")
    return lines


def _print(console: Console, title: str, records: list[dict[str, Any]], *, with_audit: bool) -> None:
    console.print(f"[bold]{escape(title)}[/bold]" + ("" if records else ": none recorded"), soft_wrap=True)
    for record in records:
        for line in _lines(record, with_audit=with_audit):
            console.print(line, soft_wrap=True)


def findings(console: Console, document: dict[str, Any]) -> None:
    _print(console, "Findings (lineage)", document["findings"], with_audit=False)
    if document.get("findingsNext"):
        console.print(
            f"More: remediator history {document['auditTaskId']} --after {document['findingsNext']}",
            soft_wrap=True,
        )


def resource(console: Console, document: dict[str, Any]) -> None:
    _print(console, f"History of {document['resource']} (newest first)", document["records"], with_audit=True)
    if document.get("next"):
        console.print(
            f"More: remediator history --resource {escape(document['resource'])} --after {document['next']}",
            soft_wrap=True,
        )
