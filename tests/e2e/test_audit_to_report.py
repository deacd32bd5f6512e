"""End to end: deploy, seed a throw-away fleet, run an on-demand audit, wait for the report, check
every change it should have made (and none else), clean up.

In the sandbox (CI) the stack runs with RemediationMode=Enforce and the devices' connections are
recorded, so the shared certificate is found and remediated. Against a real stack the fleet never
connects, so its audit reports only the fleet's policy, and nothing of the fleet may change.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.demo import fleet_settings
from tests.e2e import fleet as throwaway
from tests.e2e import reports
from tests.e2e.drivers import Driver

pytestmark = pytest.mark.e2e
POLICY_CHECK = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"


def settings(iot: Any, fleet: throwaway.Fleet) -> dict[tuple[str, str], str]:
    return {(s.subject, s.name): s.value for s in fleet_settings(iot, [d.thing_name for d in fleet.devices])}


def expected_after(
    driver: Driver, fleet: throwaway.Fleet, before: dict[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """Before, with the changes Enforce makes to what the audit can find: the shared certificate
    deactivated, its things quarantined, logging on at ERROR. The policy stays: in Enforce its group waits
    for approval and the run rejects it; in DryRun it is a dry run."""
    expected = dict(before)
    if driver.enforce and driver.records_connections:
        certificate = f"certificate {fleet.shared_certificate_id[:10]}"
        for device in fleet.shared:
            expected[(device.thing_name, certificate)] = "INACTIVE"
            expected[(device.thing_name, "thing groups")] = driver.outputs["QuarantineThingGroupName"]
        expected[("account", "logging level")] = "ERROR"
    return expected


def expected_result(driver: Driver) -> set[str]:
    if not driver.enforce:
        return {"dry-run"}
    if driver.records_connections:
        return {"full-success"}
    # A real Enforce stack also remediates whatever else the account's audit found.
    return {"full-success", "dry-run", "partial"}


def policy_checks(driver: Driver, report: dict[str, Any]) -> list[str]:
    """The checks the report shows left alone as the run intends: rejected in Enforce, a dry run otherwise."""
    if driver.enforce:
        return [
            c for task in report["tasks"] if task["status"] == "APPROVAL_REJECTED" for c in task["checks"]
        ]
    return [check for task in report["dryRun"] for check in task["checks"]]


def test_an_on_demand_audit_remediates_the_throw_away_fleet_and_reports(driver: Driver) -> None:
    iot = driver.client("iot")
    prefix = throwaway.new_prefix()
    queue = reports.subscribe(driver, f"{prefix}-reports")
    try:
        fleet = throwaway.seed(iot, prefix)
        try:
            driver.connect(fleet.devices)
            before = settings(iot, fleet)

            audit_task_id = driver.start_audit()
            report = reports.wait_for_report(driver, queue, audit_task_id)

            assert report["remediationMode"] == ("Enforce" if driver.enforce else "DryRun")
            assert report["result"] in expected_result(driver), report
            assert POLICY_CHECK in policy_checks(driver, report)
            assert settings(iot, fleet) == expected_after(driver, fleet, before)
            if driver.enforce and driver.records_connections:
                group = iot.describe_thing_group(thingGroupName=driver.outputs["QuarantineThingGroupName"])
                attached = iot.list_attached_policies(target=group["thingGroupArn"])["policies"]
                assert driver.outputs["QuarantinePolicyName"] in [p["policyName"] for p in attached]
        finally:
            throwaway.remove(iot, fleet, driver.retry)
    finally:
        reports.remove(driver, queue)

    for device in fleet.devices:
        with pytest.raises(iot.exceptions.ResourceNotFoundException):
            iot.describe_thing(thingName=device.thing_name)
        with pytest.raises(iot.exceptions.ResourceNotFoundException):
            iot.describe_certificate(certificateId=device.certificate_id)
