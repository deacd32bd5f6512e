"""The remediator command line against a deployed stack in the sandbox: what each command reads and
writes, as tables and as JSON, and its one-line refusals."""

from __future__ import annotations

import json
import re

from tests.integration.cli.conftest import Operator


def test_status_shows_the_audits_run_and_the_switch(operator: Operator) -> None:
    # Given the stack remediated one audit
    # When the operator asks for the status as JSON
    result = operator.run("status", "--json")

    # Then the run is listed under its audit with its status and the report's result ...
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    [run] = [run for run in status["runs"] if run["auditTaskId"] == operator.audit_task_id]
    assert run["status"] == "SUCCEEDED"
    assert run["kind"] == "audit"
    assert run["result"] == "full-success"
    # ... and the switch is released
    assert status["killSwitch"]["value"] == "released"
    assert status["killSwitch"]["parameter"] == operator.switch
    # And the table shows the same run
    table = operator.run("status")
    assert table.exit_code == 0, table.output
    assert operator.audit_task_id in table.stdout


def test_history_lists_the_decision_log_and_each_task_with_its_statistics(operator: Operator) -> None:
    # When the operator asks for the audit's history
    result = operator.run("history", operator.audit_task_id, "--json")

    # Then each task the workflow recorded is there, completed, with the finding it mitigated
    assert result.exit_code == 0, result.output
    history = json.loads(result.stdout)
    assert history["auditTaskId"] == operator.audit_task_id
    [task] = history["tasks"]
    assert task["status"] == "COMPLETED"
    assert task["mode"] == "enforce"
    assert task["checks"] == ["DEVICE_CERTIFICATE_SHARED_CHECK"]
    assert task["statistics"]["DEVICE_CERTIFICATE_SHARED_CHECK"]["succeeded"] >= 1
    # ... the check's owner is the audit's execution, and the run's summary gives its result
    assert set(history["owners"]) == {"DEVICE_CERTIFICATE_SHARED_CHECK"}
    [summary] = history["summaries"]
    assert summary["result"] == "full-success"
    # And the table names the task
    table = operator.run("history", operator.audit_task_id)
    assert table.exit_code == 0, table.output
    assert task["taskId"] in table.stdout


def test_history_of_an_unknown_audit_is_one_line_and_exit_4(operator: Operator) -> None:
    result = operator.run("history", "0123456789abcdef0123456789abcdef")

    assert result.exit_code == 4
    table = operator.outputs["RemediationTableName"]
    assert result.stderr == (
        f"nothing recorded for audit 0123456789abcdef0123456789abcdef in {table} (check the audit task id; "
        "records expire after the stack's HistoryRetentionDays)\n"
    )


def test_pause_and_resume_write_pulled_and_released_with_who_and_when(operator: Operator) -> None:
    caller = operator.sb.client("sts").get_caller_identity()["Arn"]

    # When the operator pauses
    paused = operator.run("pause", "--json")

    # Then the parameter holds exactly "pulled", and its description who pulled it and when
    assert paused.exit_code == 0, paused.output
    parameter = operator.parameter()
    assert parameter["Value"] == "pulled"
    assert re.fullmatch(
        rf"pulled by {re.escape(caller)} at \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", parameter["Description"]
    )
    assert json.loads(paused.stdout)["changed_by"] == parameter["Description"]
    # And status shows the switch pulled, by whom
    status = json.loads(operator.run("status", "--json").stdout)
    assert status["killSwitch"]["value"] == "pulled"
    assert status["killSwitch"]["changed_by"] == parameter["Description"]

    # When the operator resumes
    resumed = operator.run("resume")

    # Then the parameter holds exactly "released", and the line says who released it
    assert resumed.exit_code == 0, resumed.output
    assert operator.parameter()["Value"] == "released"
    assert resumed.stdout.startswith(f"kill switch released by {caller} at ")


def test_an_unknown_stack_is_one_line_and_exit_4(operator: Operator) -> None:
    result = operator.run("pause", "--stack", "no-such-stack")

    assert result.exit_code == 4
    assert result.stderr == "no stack named no-such-stack in us-east-1 (check --stack and AWS_REGION)\n"
    assert operator.parameter()["Value"] == "released"


def test_exclude_list_and_include_one_certificate(operator: Operator) -> None:
    iot = operator.sb.client("iot")
    certificate_id = iot.list_certificates()["certificates"][0]["certificateId"]

    # When the operator excludes the certificate from the shared-certificate check until a date
    excluded = operator.run(
        "exclude",
        certificate_id,
        "--check",
        "DEVICE_CERTIFICATE_SHARED_CHECK",
        "--until",
        "2099-01-31",
        "--reason",
        "lab bench rig",
    )

    # Then Device Defender holds one suppression for it, expiring then, with the reason
    assert excluded.exit_code == 0, excluded.output
    [suppression] = iot.list_audit_suppressions()["suppressions"]
    assert suppression["checkName"] == "DEVICE_CERTIFICATE_SHARED_CHECK"
    assert suppression["resourceIdentifier"] == {"deviceCertificateId": certificate_id}
    assert suppression["expirationDate"].isoformat().startswith("2099-01-31T00:00:00")
    assert suppression["description"] == "lab bench rig"
    # And `excluded` lists it
    [listed] = json.loads(operator.run("excluded", "--json").stdout)
    assert (listed["checkName"], listed["resource"]) == ("DEVICE_CERTIFICATE_SHARED_CHECK", certificate_id)
    assert certificate_id in operator.run("excluded").stdout
    # And excluding it again says how to change it, and changes nothing
    again = operator.run(
        "exclude", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK", "--until", "2099-06-30"
    )
    assert again.exit_code == 2
    assert again.stderr == (
        f"{certificate_id} is already excluded from DEVICE_CERTIFICATE_SHARED_CHECK: run `remediator include "
        f"{certificate_id} --check DEVICE_CERTIFICATE_SHARED_CHECK` first to change its expiry\n"
    )
    assert len(iot.list_audit_suppressions()["suppressions"]) == 1

    # When the operator includes it again
    included = operator.run("include", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK")

    # Then the suppression is gone, and a second include says nothing changed
    assert included.exit_code == 0, included.output
    assert iot.list_audit_suppressions()["suppressions"] == []
    second = operator.run("include", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK", "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout)["removed"] is False


def test_an_excluded_certificate_is_not_mitigated_by_the_next_audit(operator: Operator) -> None:
    # Given the shared certificate, reactivated, and excluded from the shared-certificate check
    iot = operator.sb.client("iot")
    shared = [
        c["certificateId"] for c in iot.list_certificates()["certificates"] if c["status"] == "INACTIVE"
    ]
    assert shared, "the module's audit deactivated the shared certificate"
    for certificate_id in shared:
        iot.update_certificate(certificateId=certificate_id, newStatus="ACTIVE")
        result = operator.run(
            "exclude", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK", "--until", "2099-01-31"
        )
        assert result.exit_code == 0, result.output

    # When the next audit runs
    iot.start_on_demand_audit_task(targetCheckNames=["DEVICE_CERTIFICATE_SHARED_CHECK"])
    operator.sb.settle()

    # Then the certificate stays active
    assert {
        iot.describe_certificate(certificateId=c)["certificateDescription"]["status"] for c in shared
    } == {"ACTIVE"}
