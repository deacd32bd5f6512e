"""The Security Hub sync against the sandbox's Security Hub, fed by the Device Defender emulator's
audits as the native integration sends them: the workflow and note it sets, nothing when it is off,
what Security Hub does not update, and both readings of the Security Hub finding's Id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from audit_remediator.adapters.securityhub import AuditFindingsInSecurityHub, audit_product_arn
from audit_remediator.securityhub_sync import (
    SecurityHubSyncRequest,
    SyncedStatus,
    remediation_note,
    sync_findings,
)
from sandbox.device_defender import DeviceDefenderEmulator, ManualClock
from sandbox.fleet import EVALUATED_CHECKS, seed_fleet
from sandbox.securityhub.asff import IdReading
from sandbox.securityhub.hub import SecurityHub
from sandbox.securityhub.integration import disable_security_hub, enable_security_hub
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.sandbox.emulator_support import audit_findings

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/audit"
PRODUCT = audit_product_arn("aws", REGION)
NOTE_FIELDS = {"event": "awaiting approval", "mitigationTaskId": "t-1", "report": "remediator history a-1"}
NOTE = remediation_note(event="awaiting approval", mitigation_task_id="t-1", report="remediator history a-1")


@dataclass
class Env:
    emulator: DeviceDefenderEmulator
    iot: Any
    clock: ManualClock

    def audit(self, scenario: str | None = "workshop") -> str:
        if scenario is not None:
            seed_fleet(scenario, emulator=self.emulator, iot=self.iot)
        self.iot.update_account_audit_configuration(
            roleArn=ROLE, auditCheckConfigurations={c: {"enabled": True} for c in EVALUATED_CHECKS}
        )
        task_id: str = self.iot.start_on_demand_audit_task(targetCheckNames=list(EVALUATED_CHECKS))["taskId"]
        self.clock.advance(1)
        return task_id

    def finding_ids(self, task_id: str) -> list[str]:
        return [f["findingId"] for f in audit_findings(self.iot, task_id)]


@pytest.fixture
def env() -> Iterator[Env]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with (
        mock_aws(),
        DeviceDefenderEmulator(clock=clock, audit_seconds=0, mitigation_task_seconds=0, seed=5) as dd,
    ):
        yield Env(dd, boto3.client("iot", region_name=REGION), clock)


@pytest.fixture(params=list(IdReading))
def hub(env: Env, request: pytest.FixtureRequest) -> Iterator[SecurityHub]:
    enabled = enable_security_hub(env.emulator, id_reading=request.param)
    yield enabled
    disable_security_hub(enabled)


def _port() -> AuditFindingsInSecurityHub:
    client = boto3.client("securityhub", region_name=REGION)
    return AuditFindingsInSecurityHub(client, account_id=ACCOUNT_ID, product_arn=PRODUCT)


def _request(
    finding_ids: list[str], status: SyncedStatus | None = SyncedStatus.NOTIFIED
) -> SecurityHubSyncRequest:
    return SecurityHubSyncRequest.model_validate(
        {"findingIds": finding_ids, "workflowStatus": status, **NOTE_FIELDS}
    )


def test_the_sync_sets_each_findings_workflow_status_and_note(env: Env, hub: SecurityHub) -> None:
    ids = env.finding_ids(env.audit())

    result = sync_findings(_request(ids), _port(), updated_by="iot-audit-remediator")

    assert result.sync == "done"
    assert sorted(result.updated) == sorted(ids)
    for finding_id in ids:
        finding = hub.audit_finding_for(finding_id)
        assert finding is not None
        assert finding["Workflow"] == {"Status": "NOTIFIED"}
        assert finding["Note"]["Text"] == NOTE
        assert finding["Note"]["UpdatedBy"] == "iot-audit-remediator"


def test_a_note_alone_leaves_the_workflow_status_as_it_was(env: Env, hub: SecurityHub) -> None:
    ids = env.finding_ids(env.audit())
    sync_findings(_request(ids, SyncedStatus.RESOLVED), _port(), updated_by="r")

    sync_findings(_request(ids, None), _port(), updated_by="r")

    assert {hub.audit_finding_for(f)["Workflow"]["Status"] for f in ids} == {"RESOLVED"}  # type: ignore[index]


def test_check_summaries_are_never_touched(env: Env, hub: SecurityHub) -> None:
    ids = env.finding_ids(env.audit())

    sync_findings(_request(ids, SyncedStatus.RESOLVED), _port(), updated_by="r")

    summaries = [f for f in hub.findings.values() if f["ProductFields"]["ReportType"] == "CheckSummary"]
    assert summaries
    assert all(f["Workflow"]["Status"] == "NEW" and "Note" not in f for f in summaries)


def test_more_findings_than_one_call_takes_are_looked_up_and_updated_in_pages(
    env: Env, hub: SecurityHub
) -> None:
    ids = env.finding_ids(env.audit())
    unknown = [f"{i:032x}" for i in range(230)]  # 250 ids: 13 lookups of 20, updates of at most 100

    result = sync_findings(_request(ids + unknown), _port(), updated_by="r")

    assert sorted(result.updated) == sorted(ids)
    assert sorted(result.not_found) == sorted(unknown)
    assert result.sync == "partial"
    assert all(len(u["FindingIdentifiers"]) <= 100 for u in hub.updates)


def test_with_the_sync_off_security_hub_is_never_called(env: Env, hub: SecurityHub) -> None:
    ids = env.finding_ids(env.audit())
    calls: list[str] = []
    client = boto3.client("securityhub", region_name=REGION)
    client.meta.events.register("before-call.securityhub", lambda model, **_: calls.append(model.name))

    result = sync_findings(_request(ids), None, updated_by="r")

    assert result.sync == "off"
    assert result.updated == []
    assert calls == []
    assert {hub.audit_finding_for(f)["Workflow"]["Status"] for f in ids} == {"NEW"}  # type: ignore[index]


def test_findings_security_hub_does_not_update_are_reported_with_its_error_code(
    env: Env, hub: SecurityHub
) -> None:
    ids = env.finding_ids(env.audit())
    gone = hub.audit_finding_for(ids[0])
    assert gone is not None

    class ExpiringBeforeTheUpdate(AuditFindingsInSecurityHub):
        """Security Hub deletes the finding between the lookup and the update (its 90-day expiry)."""

        def update(self, findings: Any, **options: Any) -> Any:
            del hub.findings[(PRODUCT, gone["Id"])]
            return super().update(findings, **options)

    port = ExpiringBeforeTheUpdate(
        boto3.client("securityhub", region_name=REGION), account_id=ACCOUNT_ID, product_arn=PRODUCT
    )

    result = sync_findings(_request(ids, SyncedStatus.RESOLVED), port, updated_by="r")

    assert [(u.finding_id, u.error_code) for u in result.unprocessed] == [(ids[0], "FindingNotFound")]
    assert sorted(result.updated) == sorted(ids[1:])
    assert result.sync == "partial"


def test_a_failed_security_hub_call_is_reported_not_raised(env: Env, hub: SecurityHub) -> None:
    ids = env.finding_ids(env.audit())
    hub.enabled = False  # Security Hub disabled in the account after the stack was set up

    result = sync_findings(_request(ids), _port(), updated_by="r")

    assert result.sync == "partial"
    assert result.updated == []
    assert {u.error_code for u in result.unprocessed} == {"InvalidAccessException"}
    assert sorted(u.finding_id for u in result.unprocessed) == sorted(ids)


def test_a_finding_a_later_audit_took_over_is_not_found_and_keeps_its_status(
    env: Env, hub: SecurityHub
) -> None:
    first = env.finding_ids(env.audit())
    second = env.finding_ids(
        env.audit(scenario=None)
    )  # same fleet, same resources: same Security Hub findings

    result = sync_findings(_request(first, SyncedStatus.RESOLVED), _port(), updated_by="r")

    assert result.updated == []
    assert sorted(result.not_found) == sorted(first)
    assert {hub.audit_finding_for(f)["Workflow"]["Status"] for f in second} == {"NEW"}  # type: ignore[index]


def test_without_the_integration_accepted_nothing_is_found(env: Env) -> None:
    hub = enable_security_hub(env.emulator, accept_audit_findings=False)
    try:
        ids = env.finding_ids(env.audit())
        result = sync_findings(_request(ids), _port(), updated_by="r")
    finally:
        disable_security_hub(hub)

    assert result.sync == "partial"
    assert sorted(result.not_found) == sorted(ids)


def test_the_sandbox_refuses_what_security_hub_refuses(env: Env, hub: SecurityHub) -> None:
    env.audit()
    client = boto3.client("securityhub", region_name=REGION)
    identifier = {"Id": "x", "ProductArn": PRODUCT}

    with pytest.raises(ClientError) as too_many:
        client.batch_update_findings(
            FindingIdentifiers=[identifier] * 101, Note={"Text": "n", "UpdatedBy": "r"}
        )
    with pytest.raises(ClientError) as long_note:
        client.batch_update_findings(
            FindingIdentifiers=[identifier], Note={"Text": "n" * 513, "UpdatedBy": "r"}
        )
    with pytest.raises(ClientError) as many_values:
        client.get_findings(Filters={"Id": [{"Value": str(i), "Comparison": "EQUALS"} for i in range(21)]})
    duplicated = client.batch_update_findings(
        FindingIdentifiers=[identifier] * 2, Workflow={"Status": "NOTIFIED"}
    )

    for raised in (too_many, long_note, many_values):
        assert raised.value.response["Error"]["Code"] == "InvalidInputException"
    assert {u["ErrorCode"] for u in duplicated["UnprocessedFindings"]} == {"DuplicatedFindingIdentifier"}


def test_more_than_a_hundred_findings_are_updated_a_hundred_at_a_time(env: Env, hub: SecurityHub) -> None:
    template = hub.audit_finding_for(env.finding_ids(env.audit())[0])
    assert template is not None
    ids = [f"{i:032x}" for i in range(150)]
    for finding_id in ids:  # 150 resources reported by one audit
        copy = {**template, "Id": f"{template['Id']}-{finding_id}"}
        copy["ProductFields"] = {**template["ProductFields"], "FindingId": finding_id}
        hub.findings[(PRODUCT, copy["Id"])] = copy

    result = sync_findings(_request(ids, SyncedStatus.RESOLVED), _port(), updated_by="r")

    assert sorted(result.updated) == ids
    assert [len(u["FindingIdentifiers"]) for u in hub.updates] == [100, 50]
