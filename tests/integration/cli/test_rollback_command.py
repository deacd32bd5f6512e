"""`remediator rollback` against a deployed stack in the sandbox: the audit the stack remediated (its shared
certificate deactivated, its things quarantined) is shown on a dry run, rolled back, and found restored the
second time; a request without exactly one scope exits 2, an audit with nothing recorded exits 4."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import Result

from tests.integration.cli.conftest import Operator


def document(result: Result) -> Any:
    """The command's JSON document, after the function's own log lines (the sandbox runs it in-process)."""
    lines = result.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def certificate_statuses(operator: Operator) -> dict[str, str]:
    certificates = operator.sb.client("iot").list_certificates()["certificates"]
    return {c["certificateId"]: c["status"] for c in certificates}


def test_a_dry_run_then_a_rollback_then_a_second_rollback(operator: Operator) -> None:
    # Given the audit the stack remediated: its shared certificate is no longer ACTIVE
    remediated = certificate_statuses(operator)
    assert "INACTIVE" in remediated.values()

    # When the operator asks for a dry run
    dry = operator.run("rollback", operator.audit_task_id, "--all", "--dry-run", "--json")

    # Then it lists what it would restore, exits 0 and changes nothing
    assert dry.exit_code == 0, dry.output
    planned = document(dry)
    assert (planned["dryRun"], planned["restored"]) == (True, 0)
    assert planned["wouldRestore"] == planned["records"] >= 1
    assert certificate_statuses(operator) == remediated

    # When the operator rolls the audit back, with the table for people
    done = operator.run("rollback", operator.audit_task_id, "--all")

    # Then every certificate is ACTIVE again and the summary says how many records were restored
    assert done.exit_code == 0, done.output
    assert set(certificate_statuses(operator).values()) == {"ACTIVE"}
    summary = " ".join(done.stdout.split())
    assert f"{planned['records']} records: restored {planned['records']}" in summary

    # And a second rollback is a no-op reported as already restored
    again = operator.run("rollback", operator.audit_task_id, "--all", "--json")
    assert again.exit_code == 0, again.output
    assert document(again)["alreadyRestored"] == planned["records"]


def test_a_rollback_names_exactly_one_scope(operator: Operator) -> None:
    both = operator.run("rollback", operator.audit_task_id, "--all", "--thing", "SensorDevice01")
    assert both.exit_code == 2
    assert both.stderr == "name exactly one of --thing, --finding or --all\n"


def test_an_audit_with_nothing_recorded_exits_4(operator: Operator) -> None:
    result = operator.run("rollback", "0123456789abcdef0123456789abcdef", "--all", "--json")
    assert result.exit_code == 4, result.output
    assert document(result)["records"] == 0
