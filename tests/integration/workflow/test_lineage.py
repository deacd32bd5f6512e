"""`remediator history` shows each finding's lineage from its pre-state record: check, resource, task, IoT's
execution status, verification (what was observed when not verified) and any rollback; `--resource` shows one
resource across audits, newest first. Both are paged with --limit and --after."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from typer.testing import CliRunner, Result

from remediator_cli.app import app
from sandbox.operator_account import SandboxAccount
from sandbox.workflow import Workflow, audit_plan, task

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


def cli(wf: Workflow, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--stack", wf.stack.name], obj=SandboxAccount(wf.sb))


def history(wf: Workflow, *args: str) -> dict[str, Any]:
    result = cli(wf, "history", *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def run(wf: Workflow, plan: dict[str, Any]) -> None:
    result = wf.run(plan)
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))


def test_each_finding_shows_its_task_execution_and_verification(wf: Workflow) -> None:
    # Given one audit whose task deactivates two certificates, and one whose task only quarantines (not contained)
    deactivated = wf.seed_audit({EXPIRING: [wf.device("LineageA"), wf.device("LineageB")]})
    deactivate = task(
        {"findingIds": deactivated.ids(EXPIRING)},
        {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]},
    )
    run(wf, audit_plan(deactivated.task_id, deactivate))
    quarantined = wf.seed_audit({SHARED: [wf.device("LineageC")]})
    quarantine = task(
        {"findingIds": quarantined.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]}
    )
    run(wf, audit_plan(quarantined.task_id, quarantine))

    # When the operator asks for each audit's history
    first = history(wf, deactivated.task_id)
    second = history(wf, quarantined.task_id)

    # Then each finding names its check, resource, task, IoT's status and its verification
    assert sorted(f["findingId"] for f in first["findings"]) == sorted(deactivated.ids(EXPIRING))
    for finding in first["findings"]:
        assert finding["check"] == EXPIRING
        assert finding["resource"].startswith("deviceCertificateId=")
        assert finding["taskId"] == deactivate["taskId"]
        assert finding["iotStatus"] == "SUCCEEDED"
        assert finding["verification"] == "verified"
        assert datetime.fromisoformat(finding["foundAt"]).tzinfo == UTC
        assert "observed" not in finding
        assert "rollback" not in finding
    # ... and a finding not verified shows what was observed and why
    [contained] = second["findings"]
    assert contained["verification"] == "not-verified"
    assert contained["observed"]["things"]["LineageC"]
    assert contained["reasons"][0].startswith("not contained")
    # And the table shows them too
    table = cli(wf, "history", quarantined.task_id)
    assert table.exit_code == 0, table.output
    assert "not-verified" in table.stdout
    assert contained["findingId"] in table.stdout


def test_an_audits_findings_are_paged_with_limit_and_after(wf: Workflow) -> None:
    audit = wf.seed_audit({EXPIRING: [wf.device(f"LineagePaged{n}") for n in range(3)]})
    planned = task(
        {"findingIds": audit.ids(EXPIRING)}, {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]}
    )
    run(wf, audit_plan(audit.task_id, planned))

    # When the operator reads the findings one at a time, following each page's token
    seen: list[str] = []
    after: list[str] = []
    while True:
        page = history(wf, audit.task_id, "--limit", "1", *after)
        assert len(page["findings"]) <= 1
        seen += [f["findingId"] for f in page["findings"]]
        if not page["findingsNext"]:
            break
        after = ["--after", page["findingsNext"]]

    # Then every finding comes exactly once
    assert sorted(seen) == sorted(audit.ids(EXPIRING))


def test_a_resource_is_shown_across_audits_newest_first_with_its_rollback(wf: Workflow) -> None:
    # Given the same device quarantined by two audits, the first later rolled back
    device = wf.device("LineageAcrossAudits")
    audits = []
    for _ in range(2):
        audit = wf.seed_audit({SHARED: [device]})
        run(
            wf,
            audit_plan(
                audit.task_id,
                task({"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]}),
            ),
        )
        audits.append(audit)
    [older] = history(wf, audits[0].task_id)["findings"]
    # what a rollback writes onto the record (audit_remediator.resource_state)
    with wf.sb.calls.pause():
        wf.sb.client("dynamodb").update_item(
            TableName=wf.stack.physical_ids["RemediationTable"],
            Key={
                "pk": {"S": f"PRESTATE#{older['auditTaskId']}"},
                "sk": {"S": f"TASK#{older['taskId']}#FINDING#{older['findingId']}"},
            },
            UpdateExpression="SET rolledBackAt = :at, rolledBackBy = :by, rollbackResult = :result, rollbackObserved = :observed",
            ExpressionAttributeValues={
                ":at": {"S": "2026-01-02T03:04:05Z"},
                ":by": {"S": "arn:aws:sts::123456789012:assumed-role/operator/alice"},
                ":result": {"S": "restored"},
                ":observed": {"S": json.dumps({"things": {"LineageAcrossAudits": []}})},
            },
        )

    # When the operator asks for the resource's history, one record per page
    first = history(wf, "--resource", older["resource"], "--limit", "1")
    second = history(wf, "--resource", older["resource"], "--limit", "1", "--after", first["next"])

    # Then the newer audit comes first, then the older one with its rollback
    assert [r["auditTaskId"] for r in first["records"] + second["records"]] == [
        a.task_id for a in reversed(audits)
    ]
    [rolled_back] = second["records"]
    assert rolled_back["rollback"] == {
        "rolledBackAt": "2026-01-02T03:04:05Z",
        "rolledBackBy": "arn:aws:sts::123456789012:assumed-role/operator/alice",
        "rollbackResult": "restored",
        "rollbackObserved": {"things": {"LineageAcrossAudits": []}},
    }
    table = cli(wf, "history", "--resource", older["resource"])
    assert table.exit_code == 0, table.output
    assert "restored by" in table.stdout


def test_history_refuses_a_bad_token_and_a_missing_or_double_subject(wf: Workflow) -> None:
    neither = cli(wf, "history")
    both = cli(wf, "history", "0123456789abcdef0123456789abcdef", "--resource", "deviceCertificateId=x")
    bad = cli(wf, "history", "--resource", "deviceCertificateId=x", "--after", "not-a-token")
    unknown = cli(wf, "history", "--resource", "deviceCertificateId=never-seen")

    assert (neither.exit_code, both.exit_code) == (2, 2)
    assert neither.stderr == "give an audit task id or --resource KEY, not both and not neither\n"
    assert bad.exit_code == 2
    assert bad.stderr.startswith("--after takes the `next` token a previous page printed")
    assert unknown.exit_code == 4
    assert unknown.stderr.startswith("nothing recorded for resource deviceCertificateId=never-seen")
