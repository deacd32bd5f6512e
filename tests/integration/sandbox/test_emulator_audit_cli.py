"""`python -m sandbox audit`: seeds a fleet, audits it through the emulator and prints the findings."""

from __future__ import annotations

import json

import pytest

from sandbox.audit_cli import main


def test_the_workshop_audit_prints_each_finding_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", "workshop", "--audit-seconds", "0.05"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CHECK", "SEVERITY", "RESOURCE", "REASON", "CODE"]
    # check, severity, resource type, resource, reason code
    rows = {
        (cells[0], cells[2], cells[4]) for cells in (line.split() for line in lines[2:]) if len(cells) == 5
    }
    assert (
        "DEVICE_CERTIFICATE_SHARED_CHECK",
        "DEVICE_CERTIFICATE",
        "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",
    ) in rows
    assert (
        "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
        "IOT_POLICY",
        "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
    ) in rows
    assert ("LOGGING_DISABLED_CHECK", "ACCOUNT_SETTINGS", "LOGGING_DISABLED") in rows
    assert lines[-1].endswith("COMPLETED (scenario workshop): 3 of 8 checks non-compliant, 3 findings.")


def test_json_output_for_a_healthy_fleet_has_no_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--scenario", "healthy", "--check", "LOGGING_DISABLED_CHECK", "--audit-seconds", "0", "--json"])
        == 0
    )

    document = json.loads(capsys.readouterr().out)
    assert (document["taskStatus"], document["findings"]) == ("COMPLETED", [])


def test_an_unknown_scenario_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--scenario", "no-such-fleet"])
    assert raised.value.code == 2
