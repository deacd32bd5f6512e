"""The daily sweep measures the share of the fleet in quarantine: the things of the stack's quarantine group and
of the account, each counted across pages, reported and sent as metrics for the dashboard to divide."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.workflow import Workflow, audit_plan, task

SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
PLAIN_THINGS = 260  # more than one page of ListThings (250)
ALREADY_QUARANTINED = 251  # more than one page of ListThingsInThingGroup (250)


def test_the_sweep_counts_the_quarantined_devices_and_the_fleet_across_pages(
    wf: Workflow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a fleet of plain things, some of them in the quarantine group already
    group = wf.stack.physical_ids["QuarantineThingGroup"]
    iot = wf.sb.client("iot")
    with wf.sb.calls.pause():
        for n in range(PLAIN_THINGS):
            iot.create_thing(thingName=f"share-{n}")
        for n in range(ALREADY_QUARANTINED):
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=f"share-{n}")
    # ... and two devices the workflow quarantines
    audit = wf.seed_audit({SHARED: [wf.device("ShareA"), wf.device("ShareB")]})
    planned = task({"findingIds": audit.ids(SHARED)}, {SHARED: [wf.action("QuarantineThingsAction")]})
    result = wf.run(audit_plan(audit.task_id, planned))
    assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
    capsys.readouterr()

    # When the sweep runs
    report: dict[str, Any] = wf.sb.invoke("ReconcileFunction", {"days": 1})
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]

    # Then it reports and sends both counts, every page counted
    expected = {"group": group, "quarantined": ALREADY_QUARANTINED + 2, "fleet": PLAIN_THINGS + 2}
    assert report["quarantine"] == expected
    [sent] = [d for d in documents if "QuarantinedDevices" in d]
    assert (sent["QuarantinedDevices"], sent["FleetDevices"]) == (
        [expected["quarantined"]],
        [expected["fleet"]],
    )
    assert sent["service"] == "iot-audit-remediator"
    # ... asking for IoT's largest pages (moto answers a group's things in one page whatever is asked)
    listed = [c for c in wf.sb.calls.of("iot", "ListThings") if c.ok]
    assert len(listed) == 2
    assert {c.params["maxResults"] for c in [*listed, *wf.sb.calls.of("iot", "ListThingsInThingGroup")]} == {
        250
    }


def test_a_count_that_cannot_be_read_is_reported_and_the_sweep_goes_on(
    wf: Workflow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given IoT failing to list the things
    wf.sb.faults.add("iot", "ListThings", error="InternalFailureException", times=None)
    capsys.readouterr()

    # When the sweep runs
    report: dict[str, Any] = wf.sb.invoke("ReconcileFunction", {"days": 1})

    # Then the share is reported unknown with the error, nothing is sent for it, and the sweep still reports
    assert "ListThings" in report["quarantine"]["error"]
    assert "quarantined" not in report["quarantine"]
    assert '"QuarantinedDevices"' not in capsys.readouterr().out
    assert report["kind"] == "reconciliation"
