"""`make demo`: the workshop fleet audited and remediated end to end in a fresh sandbox (issue item 3)."""

import dataclasses
import io
from typing import Any

import pytest

from sandbox import demo


def test_the_demo_remediates_the_workshop_fleet_and_says_so(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[demo.DemoRun] = []
    render = demo.render

    def keep(run: demo.DemoRun, out: Any) -> bool:
        runs.append(run)
        return render(run, out)

    monkeypatch.setattr(demo, "render", keep)

    status = demo.main([])

    out = capfd.readouterr().out
    assert status == 0, out
    for line in (
        "ok   SensorDevice01 is in the quarantine group iot-audit-remediator-quarantine",
        "ok   SensorDevice02 is in the quarantine group iot-audit-remediator-quarantine",
        "ok   the deny-all policy iot-audit-remediator-quarantine-deny-all is attached to the quarantine group",
        "ok   logging is enabled at ERROR",
        "ok   the overly permissive policy is left as is (dry-run rule)",
        "ok   the report lists the policy check as a dry-run",
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
