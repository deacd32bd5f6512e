"""`remediator reconcile` against a deployed stack in the sandbox: it runs the stack's sweep and says what it
found; a sweep that could not decide every audit exits 1, a look-back the stack cannot honour exits 2."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import Result

from tests.integration.cli.conftest import Operator


def document(result: Result) -> Any:
    """The command's JSON document: the sandbox runs the sweep in-process, so the function's own log lines
    and metric documents (CloudWatch's, in AWS) come first on the same stdout."""
    lines = result.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def test_reconcile_reports_the_remediated_audit_as_already_decided(operator: Operator) -> None:
    # Given the stack remediated one audit from its notification
    # When the operator runs the sweep over the last day
    result = operator.run("reconcile", "--days", "1", "--json")

    # Then the audit was seen and found decided, nothing was reconciled, and the exit code is 0
    assert result.exit_code == 0, result.output
    report = document(result)
    assert report["days"] == 1
    assert report["seen"] >= 1
    assert report["alreadyDecided"] == report["seen"]
    assert (report["reconciled"], report["errors"]) == ([], [])
    # And the summary for people says the same
    table = operator.run("reconcile", "--days", "1")
    assert table.exit_code == 0, table.output
    summary = " ".join(table.stdout.split())
    assert f"{report['seen']} seen, {report['seen']} already decided, 0 reconciled now" in summary


def test_a_sweep_that_cannot_list_the_audits_exits_1_and_names_the_error(operator: Operator) -> None:
    # Given IoT failing every ListAuditTasks
    operator.sb.faults.add("iot", "ListAuditTasks", error="InternalFailureException", times=None)
    try:
        # When the operator runs the sweep
        result = operator.run("reconcile", "--json")
    finally:
        operator.sb.faults.clear()

    # Then the report names the failed listing, and the exit code tells a script something was left undone
    assert result.exit_code == 1
    [error] = document(result)["errors"]
    assert error["auditTaskId"] is None
    assert error["error"].startswith("IoT ListAuditTasks failed:")


def test_looking_back_past_the_decision_log_is_one_line_and_exit_2(operator: Operator) -> None:
    # Given the stack keeps decisions for HistoryRetentionDays (the sandbox deploys 400; the sweep takes 90)
    # When the operator asks for more days than the command allows
    result = operator.run("reconcile", "--days", "91")

    # Then the command line refuses it before anything is called
    assert result.exit_code == 2
    assert "Invalid value for '--days'" in result.output
