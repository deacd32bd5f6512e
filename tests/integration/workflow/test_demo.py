"""`make demo`: the workshop fleet audited and remediated end to end in a fresh sandbox (issue item 3)."""

import dataclasses
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox import demo
from sandbox.iam.service_contexts import IotReading, Readings
from tests.conftest import ROOT
from tests.integration.test_undeployed_action import MISSING, template_without


def test_the_demo_remediates_the_workshop_fleet_and_says_so(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs: list[demo.DemoRun] = []
    render = demo.render

    def keep(run: demo.DemoRun, out: Any) -> bool:
        runs.append(run)
        return render(run, out)

    monkeypatch.setattr(demo, "render", keep)

    status = demo.main(["--log-file", str(tmp_path / "demo.log")])

    out, err = capfd.readouterr()
    assert status == 0, out
    # The handler's log lines and EMF metric documents went to the log file, not among the output
    assert not [line for line in (out + err).splitlines() if line.startswith('{"')]
    assert '"_aws"' in (tmp_path / "demo.log").read_text()
    header, rule, *rows = out.split("Fleet before and after\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(header.split()) >= len(rule.split())
    assert header.split()[-1] == "VERIFIED"
    verified_column = {(row.split()[0], row.split()[-1]) for row in rows if row.split()[0] != "policy"}
    assert verified_column == {
        ("SensorDevice01", "verified"),
        ("SensorDevice02", "verified"),
        ("HealthySensor01", "-"),
        ("account", "verified"),
    }
    for line in (
        "ok   SensorDevice01 is in the quarantine group iot-audit-remediator-quarantine",
        "ok   SensorDevice02 is in the quarantine group iot-audit-remediator-quarantine",
        "ok   the deny-all policy iot-audit-remediator-quarantine-deny-all is attached to the quarantine group",
        "ok   logging is enabled at ERROR",
        "ok   the policy group waited for approval",
        "ok   the operator approved it with the command line",
        "ok   one policy's default version is now the blank one",
        "ok   the report records who approved the policy group",
        "ok   every changed device, policy and the account setting is verified",
        "ok   the rollback of SensorDevice01 alone was refused: another device holds its certificate",
        "ok   the operator rolled SensorDevice01's finding back with the command line",
        "ok   SensorDevice01's settings after the rollback equal its before column",
        "every expected change happened",
    ):
        assert line in out
    assert "  FAIL " not in out
    assert '"result": "full-success"' in out
    [run] = runs
    assert run.seconds_to_report < 30

    # And a fleet the workflow did not touch makes the demo fail
    untouched = dataclasses.replace(run, after=run.before, quarantine_group_policies=[])
    text = io.StringIO()
    assert render(untouched, text) is False
    assert "FAIL SensorDevice01 is in the quarantine group" in text.getvalue()
    assert "FAIL logging is enabled at ERROR" in text.getvalue()
    assert "FAIL the deny-all policy" in text.getvalue()
    assert "FAIL one policy's default version is now the blank one" in text.getvalue()
    assert "$ remediator approve " + run.audit_task_id in out

    # And a rollback that left the device quarantined makes the demo fail
    half = dataclasses.replace(
        run.rollback,
        settings={**run.rollback.settings, "thing groups": "Sensors, iot-audit-remediator-quarantine"},
    )
    text = io.StringIO()
    assert render(dataclasses.replace(run, rollback=half), text) is False
    assert "FAIL SensorDevice01's settings after the rollback equal its before column" in text.getvalue()

    # And a device the workflow changed but could not verify makes the demo fail
    unverified = dataclasses.replace(
        run, verification={**run.verification, "SensorDevice02": "not-verified: certificate is ACTIVE"}
    )
    text = io.StringIO()
    assert render(unverified, text) is False
    assert "FAIL every changed device, policy and the account setting is verified" in text.getvalue()
    assert "not-verified: certificate is ACTIVE" in text.getvalue()


def test_a_rules_error_ends_the_demo_with_one_clear_line(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "sandbox", "demo", "--template", str(template_without(tmp_path, MISSING))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 1
    last = completed.stderr.splitlines()[-1]
    assert last.startswith("demo: iot-audit-remediator-audit-events raised RulesError: ")
    assert f"iot-audit-remediator-{MISSING} is not defined by the stack" in last
    assert "Traceback" not in completed.stderr
    assert not [line for line in completed.stdout.splitlines() if line.startswith('{"')]


# AWS documents which aws:SourceArn/aws:SourceAccount IoT puts in the trust policies of the audit,
# notification and mitigation-action roles, not that it sends them at run time: both readings.
@pytest.mark.parametrize("reading", list(IotReading), ids=lambda reading: reading.value)
def test_the_workshop_audit_is_remediated_whichever_source_keys_iot_sends(reading: IotReading) -> None:
    run = demo.run_demo(readings=Readings(iot=reading))

    assert run.denied == []
    assert [description for description, held in demo.expectations(run) if not held] == []
