"""Rollback's decisions, record by record: restore what the action left, leave what is already as before,
refuse what someone changed since unless forced, never half-restore a record, change nothing on a dry run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from audit_remediator.models.rollback import MAX_LISTED, RollbackRequest
from audit_remediator.resource_state import ActionCatalog, ThingLink
from audit_remediator.rollback import RollbackRecord, RollbackRequestError
from audit_remediator.rollback import roll_back_record as decide
from audit_remediator.rollback_fields import RollbackIotError
from audit_remediator.rollback_logging import logging_command
from audit_remediator.rollback_pages import rollback_page
from audit_remediator.rollback_services import parse_request
from audit_remediator.securityhub_sync import SecurityHubSyncRequest, SecurityHubSyncResult

CALLER = "arn:aws:sts::123456789012:assumed-role/operator/alice"
QUARANTINE = "stack-quarantine"
ACTIONS: Mapping[str, Mapping[str, Any]] = {
    "quarantine": {
        "addThingsToThingGroupParams": {"thingGroupNames": [QUARANTINE], "overrideDynamicGroups": True}
    },
    "deactivate": {"updateDeviceCertificateParams": {"action": "DEACTIVATE"}},
    "blank": {"replaceDefaultPolicyVersionParams": {"templateName": "BLANK_POLICY"}},
    "logging": {
        "enableIoTLoggingParams": {"roleArnForLogging": "arn:aws:iam::1:role/l", "logLevel": "ERROR"}
    },
}


@dataclass
class Iot:
    """IoT's state as the rollback reads and writes it; the writes are logged in order."""

    certificates: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    versions: dict[str, set[str]] = field(default_factory=dict)
    principals: dict[str, set[str]] = field(default_factory=dict)
    dynamic: set[str] = field(default_factory=set)
    # Policy versions that allow nothing (a version's document never changes).
    blank_versions: set[str] = field(default_factory=set)
    logging: dict[str, Any] = field(default_factory=lambda: {"configured": False})
    # What a SetV2LoggingOptions that names no role leaves in place (IoT does not document it).
    logging_without_role: str = "keeps"
    writes: list[tuple[str, ...]] = field(default_factory=list)
    failing: str | None = None

    def _write(self, *call: str) -> None:
        if call[0] == self.failing:
            raise RollbackIotError(f"IoT {call[0]} failed: ThrottlingException")
        self.writes.append(call)

    def action_params(self, action_name: str) -> Mapping[str, Any]:
        return ACTIONS[action_name]

    def certificate_status(self, certificate_id: str) -> str | None:
        return self.certificates.get(certificate_id)

    def ca_certificate_status(self, certificate_id: str) -> str | None:
        return self.certificates.get(certificate_id)

    def thing_groups(self, thing_name: str) -> list[str]:
        return sorted(self.groups.get(thing_name, set()))

    def policy_default_version(self, policy_name: str) -> str | None:
        return self.defaults.get(policy_name)

    def thing_certificates(self, thing_name: str) -> frozenset[str]:
        return frozenset(self.principals.get(thing_name, set()))

    def certificate_things(self, certificate_id: str, limit: int) -> list[ThingLink]:
        holders = sorted(t for t, certificates in self.principals.items() if certificate_id in certificates)
        return [ThingLink(thing, "NON_EXCLUSIVE_THING") for thing in holders][:limit]

    def thing_exists(self, thing_name: str) -> bool:
        return thing_name in self.groups

    def dynamic_group(self, group: str) -> bool:
        return group in self.dynamic

    def policy_grants_nothing(self, policy_name: str, version_id: str) -> bool:
        return version_id in self.versions.get(policy_name, set()) and version_id in self.blank_versions

    def set_certificate_status(self, certificate_id: str, status: str) -> None:
        self._write("set_certificate_status", certificate_id, status)
        self.certificates[certificate_id] = status

    def set_ca_certificate_status(self, certificate_id: str, status: str) -> None:
        self._write("set_ca_certificate_status", certificate_id, status)
        self.certificates[certificate_id] = status

    def add_thing_to_group(self, thing_name: str, group: str) -> None:
        self._write("add_thing_to_group", thing_name, group)
        self.groups[thing_name].add(group)

    def remove_thing_from_group(self, thing_name: str, group: str) -> None:
        self._write("remove_thing_from_group", thing_name, group)
        self.groups[thing_name].discard(group)

    def set_default_policy_version(self, policy_name: str, version_id: str) -> None:
        self._write("set_default_policy_version", policy_name, version_id)
        self.defaults[policy_name] = version_id

    def delete_policy_version(self, policy_name: str, version_id: str) -> None:
        # AWS IoT API reference, DeletePolicyVersion: "You cannot delete the default version of a policy".
        if self.defaults[policy_name] == version_id:
            raise RollbackIotError("IoT delete_policy_version failed: the default version")
        self._write("delete_policy_version", policy_name, version_id)
        self.versions[policy_name].discard(version_id)

    def logging_options(self) -> dict[str, Any]:
        return dict(self.logging)

    def set_logging_options(self, default_log_level: str, disable_all_logs: bool) -> None:
        self._write("set_logging_options", default_log_level, str(disable_all_logs))
        given = {"defaultLogLevel": default_log_level, "disableAllLogs": disable_all_logs}
        if self.logging_without_role == "keeps":
            self.logging = {**self.logging, **given}
            self.logging.pop("configured", None)
        elif self.logging_without_role == "replaces":
            self.logging = given

    # Reads pre-state recording makes and rollback never does.
    def findings_page(self, *_: Any) -> Any:
        raise AssertionError("rollback lists no findings")

    finding = findings_page
    group_policies = finding_action_statuses = findings_page


def device_record(*, observed: Mapping[str, Any] | None = None, finding: str = "f1") -> RollbackRecord:
    return RollbackRecord(
        finding_id=finding,
        task_id="task-1",
        check="DEVICE_CERTIFICATE_SHARED_CHECK",
        action_names=("quarantine", "deactivate"),
        before={
            "certificate": {"id": "c1", "status": "ACTIVE"},
            "certificateId": "c1",
            "things": {"sensor": ["sensors"]},
        },
        observed=observed,
        rollback_result=None,
    )


def policy_record(observed_default: str | None, *, grants_nothing: bool = True) -> RollbackRecord:
    seen = {"name": "p", "defaultVersionId": observed_default, "defaultGrantsNothing": grants_nothing}
    observed = {"policy": seen} if observed_default else None
    return RollbackRecord(
        finding_id="f2",
        task_id="task-2",
        check="IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
        action_names=("blank",),
        before={"policy": {"name": "p", "defaultVersionId": "1"}},
        observed=observed,
        rollback_result=None,
    )


def remediated() -> Iot:
    return Iot(certificates={"c1": "INACTIVE"}, groups={"sensor": {"sensors", QUARANTINE}})


def run(record: RollbackRecord, iot: Iot, *, force: bool = False, dry_run: bool = False) -> Any:
    return decide(record, ActionCatalog(iot), iot, force=force, dry_run=dry_run)


def test_a_quarantined_device_is_taken_out_of_the_group_and_its_certificate_reactivated() -> None:
    iot = remediated()
    outcome = run(device_record(), iot)
    assert outcome.item.outcome == "restored"
    assert iot.writes == [
        ("set_certificate_status", "c1", "ACTIVE"),
        ("remove_thing_from_group", "sensor", QUARANTINE),
    ]
    assert outcome.observed == {
        "certificate": {"id": "c1", "status": "INACTIVE"},
        "things.sensor": ["sensors", QUARANTINE],
    }


def shared_certificate() -> tuple[Iot, RollbackRecord]:
    iot = Iot(
        certificates={"c1": "INACTIVE"},
        groups={t: {"sensors", QUARANTINE} for t in ("sensor", "twin")},
        principals={"sensor": {"c1"}, "twin": {"c1"}},
    )
    record = device_record()
    things = {"sensor": ["sensors"], "twin": ["sensors"]}
    return iot, dataclasses.replace(record, before={**record.before, "things": things})


def test_one_thing_of_a_shared_certificate_is_refused_since_reactivating_it_frees_the_others() -> None:
    iot, shared = shared_certificate()
    outcome = decide(shared, ActionCatalog(iot), iot, force=False, dry_run=False, only_thing="twin")
    assert (outcome.item.outcome, outcome.observed) == ("refused-shared", None)
    assert "attached to sensor as well" in outcome.item.details[0]
    assert "--finding f1" in outcome.item.details[0]
    assert iot.writes == []


def test_one_thing_of_a_shared_certificate_is_rolled_back_with_force_and_the_others_stay_in_the_group() -> (
    None
):
    iot, shared = shared_certificate()
    outcome = decide(shared, ActionCatalog(iot), iot, force=True, dry_run=False, only_thing="twin")
    assert outcome.item.outcome == "forced"
    assert sorted(iot.writes) == [
        ("remove_thing_from_group", "twin", QUARANTINE),
        ("set_certificate_status", "c1", "ACTIVE"),
    ]
    assert iot.groups["sensor"] == {"sensors", QUARANTINE}


def test_the_whole_finding_of_a_shared_certificate_is_restored_without_force() -> None:
    iot, shared = shared_certificate()
    assert run(shared, iot).item.outcome == "restored"
    assert iot.groups == {"sensor": {"sensors"}, "twin": {"sensors"}}
    assert iot.certificates["c1"] == "ACTIVE"


@pytest.mark.parametrize(
    ("status", "groups", "expected"),
    [
        ("ACTIVE", {"sensors"}, "already-restored"),
        ("REVOKED", {"sensors", QUARANTINE}, "refused-drifted"),
        (None, {"sensors", QUARANTINE}, "refused-drifted"),
        ("INACTIVE", {"sensors", QUARANTINE, "hand-picked"}, "refused-drifted"),
        # Released from quarantine by hand: that field is as before, the certificate is still the action's.
        ("INACTIVE", {"sensors"}, "restored"),
        # Taken out of a static group it was in: someone changed it.
        ("INACTIVE", {QUARANTINE}, "refused-drifted"),
    ],
)
def test_each_field_is_compared_with_what_the_action_left(
    status: str | None, groups: set[str], expected: str
) -> None:
    iot = Iot(certificates={"c1": status} if status else {}, groups={"sensor": set(groups)})
    outcome = run(device_record(), iot)
    assert outcome.item.outcome == expected, outcome.item.details
    if expected in ("refused-drifted", "already-restored"):
        assert iot.writes == []


@pytest.mark.parametrize(
    "groups",
    [
        # The action's overrideDynamicGroups displaced a dynamic group it was in.
        {QUARANTINE},
        # A dynamic group's query took the device in once its certificate was deactivated.
        {"sensors", QUARANTINE, "disconnected"},
    ],
)
def test_dynamic_groups_are_left_to_their_queries(groups: set[str]) -> None:
    iot = Iot(
        certificates={"c1": "INACTIVE"}, groups={"sensor": set(groups)}, dynamic={"sensors", "disconnected"}
    )
    outcome = run(device_record(), iot)
    assert outcome.item.outcome == "restored", outcome.item.details
    assert ("remove_thing_from_group", "sensor", QUARANTINE) in iot.writes
    assert not [w for w in iot.writes if w[0].endswith("group") and w[2] != QUARANTINE]


def test_a_thing_deleted_since_is_refused_and_force_restores_the_rest_of_the_record() -> None:
    iot = Iot(certificates={"c1": "INACTIVE"})
    refused = run(device_record(), iot)
    assert (refused.item.outcome, iot.writes) == ("refused-drifted", [])
    assert "thing sensor no longer exists" in refused.item.details
    assert run(device_record(), iot, force=True).item.outcome == "forced"
    assert iot.writes == [("set_certificate_status", "c1", "ACTIVE")]


@pytest.mark.parametrize("status", ["PENDING_TRANSFER", "PENDING_ACTIVATION", "REGISTER_INACTIVE"])
def test_a_status_iot_will_not_set_again_is_left_to_the_operator(status: str) -> None:
    record = device_record()
    record = dataclasses.replace(
        record, before={**record.before, "certificate": {"id": "c1", "status": status}}
    )
    iot = remediated()
    outcome = run(record, iot)
    assert (outcome.item.outcome, iot.writes) == ("manual", [])
    assert f"was {status}" in outcome.item.details[0]


def test_things_the_pre_state_could_not_record_are_left_to_the_operator_never_called_restored() -> None:
    record = dataclasses.replace(
        device_record(),
        check="INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
        action_names=("quarantine",),
        before={"unrecorded": "a CA_CERTIFICATE finding names no device certificate: no things recorded"},
    )
    iot = remediated()
    outcome = run(record, iot)
    assert (outcome.item.outcome, outcome.observed, iot.writes) == ("manual", None, [])
    assert "names no device certificate" in outcome.item.details[0]


def test_a_drifted_field_refuses_the_whole_record_and_force_puts_every_field_back() -> None:
    # Given a deactivated device someone also put in another group
    iot = Iot(certificates={"c1": "INACTIVE"}, groups={"sensor": {QUARANTINE, "hand-picked"}})

    refused = run(device_record(), iot)
    forced = run(device_record(), iot, force=True)

    assert refused.item.outcome == "refused-drifted"
    assert forced.item.outcome == "forced"
    assert iot.certificates["c1"] == "ACTIVE"
    assert iot.groups["sensor"] == {"sensors"}


def test_the_blank_version_is_deleted_only_after_the_previous_default_is_set_back() -> None:
    iot = Iot(defaults={"p": "2"}, versions={"p": {"1", "2"}})
    outcome = run(policy_record(observed_default="2"), iot)
    assert outcome.item.outcome == "restored"
    assert iot.writes == [("set_default_policy_version", "p", "1"), ("delete_policy_version", "p", "2")]
    assert (iot.defaults["p"], iot.versions["p"]) == ("1", {"1"})


def test_a_default_the_verification_saw_allowing_actions_is_never_deleted() -> None:
    # The verification saw version 3 as default, and it allowed actions (someone made a fixed version)
    iot = Iot(defaults={"p": "3"}, versions={"p": {"1", "2", "3"}})
    assert run(policy_record("3", grants_nothing=False), iot).item.outcome == "refused-drifted"
    assert run(policy_record("3", grants_nothing=False), iot, force=True).item.outcome == "forced"
    assert iot.writes == [("set_default_policy_version", "p", "1")]
    assert iot.versions["p"] == {"1", "2", "3"}


def test_a_blank_version_an_earlier_rollback_failed_to_delete_is_deleted_by_the_next() -> None:
    iot = Iot(
        defaults={"p": "2"}, versions={"p": {"1", "2"}}, blank_versions={"2"}, failing="delete_policy_version"
    )
    assert run(policy_record("2"), iot).item.outcome == "failed"
    assert iot.defaults["p"] == "1"
    iot.failing = None
    again = run(policy_record("2"), iot)
    assert again.item.outcome == "restored"
    assert iot.versions["p"] == {"1"}
    assert run(policy_record("2"), iot).item.outcome == "already-restored"


@pytest.mark.parametrize(("default", "observed_default"), [("3", "2"), ("2", None)])
def test_a_default_version_nobody_saw_the_action_create_is_refused_and_never_deleted(
    default: str, observed_default: str | None
) -> None:
    iot = Iot(defaults={"p": default}, versions={"p": {"1", "2", "3"}})
    assert run(policy_record(observed_default), iot).item.outcome == "refused-drifted"
    assert run(policy_record(observed_default), iot, force=True).item.outcome == "forced"
    assert iot.writes == [("set_default_policy_version", "p", "1")]


def test_a_dry_run_says_what_it_would_restore_and_writes_nothing() -> None:
    iot = remediated()
    outcome = run(device_record(), iot, dry_run=True)
    assert (outcome.item.outcome, outcome.observed) == ("would-restore", None)
    assert "certificate c1 INACTIVE -> ACTIVE" in outcome.item.details
    assert iot.writes == []


def test_a_failed_write_is_reported_failed_and_nothing_is_recorded() -> None:
    iot = remediated()
    iot.failing = "remove_thing_from_group"
    outcome = run(device_record(), iot)
    assert outcome.item.outcome == "failed"
    assert outcome.observed is None
    assert "ThrottlingException" in outcome.item.details[-1]


LOGGING_ROLE = "arn:aws:iam::1:role/l"
SOMEONE_ELSES_ROLE = "arn:aws:iam::1:role/r"
# What the logging action (ERROR, the stack's logging role) leaves.
LOGGING_ON = {"roleArn": LOGGING_ROLE, "defaultLogLevel": "ERROR", "disableAllLogs": False}


def logging_record(before: Mapping[str, Any]) -> RollbackRecord:
    return RollbackRecord(
        "f3", "task-3", "LOGGING_DISABLED_CHECK", ("logging",), {"logging": before}, None, None
    )


@pytest.mark.parametrize("reading", ["keeps", "replaces"])
def test_logging_that_was_never_configured_is_turned_off_again_without_naming_a_role(reading: str) -> None:
    iot = Iot(logging=dict(LOGGING_ON), logging_without_role=reading)
    outcome = run(logging_record({"configured": False}), iot)
    assert outcome.item.outcome == "restored"
    assert iot.writes == [("set_logging_options", "DISABLED", "True")]
    assert iot.logging["disableAllLogs"] is True
    assert outcome.observed == {"logging": LOGGING_ON}
    assert run(logging_record({"configured": False}), iot).item.outcome == "already-restored"
    assert len(iot.writes) == 1


def test_logging_that_was_off_gets_its_level_back_and_the_role_it_named_is_left_to_the_operator() -> None:
    before = {"roleArn": SOMEONE_ELSES_ROLE, "defaultLogLevel": "WARN", "disableAllLogs": True}
    iot = Iot(logging=dict(LOGGING_ON))
    outcome = run(logging_record(before), iot)
    assert outcome.item.outcome == "restored"
    assert iot.writes == [("set_logging_options", "WARN", "True")]
    assert iot.logging == {"roleArn": LOGGING_ROLE, "defaultLogLevel": "WARN", "disableAllLogs": True}
    assert any(f"name role {LOGGING_ROLE}, not {SOMEONE_ELSES_ROLE}" in line for line in outcome.item.details)
    command = f"--role-arn {SOMEONE_ELSES_ROLE} --default-log-level WARN --disable-all-logs"
    assert command in outcome.item.details[-1]


def test_logging_at_level_disabled_keeps_its_per_resource_levels_on() -> None:
    # A low default with more verbose levels for some thing groups: every log is not disabled
    before = {"roleArn": LOGGING_ROLE, "defaultLogLevel": "DISABLED", "disableAllLogs": False}
    iot = Iot(logging=dict(LOGGING_ON))
    outcome = run(logging_record(before), iot)
    assert outcome.item.outcome == "restored"
    assert iot.writes == [("set_logging_options", "DISABLED", "False")]
    assert iot.logging == before


def test_logging_that_was_on_before_is_left_to_the_operator_with_the_exact_command() -> None:
    before = {"roleArn": SOMEONE_ELSES_ROLE, "defaultLogLevel": "WARN", "disableAllLogs": False}
    iot = Iot(logging=dict(LOGGING_ON))
    outcome = run(logging_record(before), iot)
    assert outcome.item.outcome == "manual"
    command = f"aws iot set-v2-logging-options --role-arn {SOMEONE_ELSES_ROLE} --default-log-level WARN --no-disable-all-logs"
    assert any(command in line for line in outcome.item.details)
    assert iot.writes == []
    assert outcome.observed is None


def test_logging_changed_since_is_refused_unless_forced() -> None:
    iot = Iot(logging={"roleArn": SOMEONE_ELSES_ROLE, "defaultLogLevel": "DEBUG", "disableAllLogs": False})
    refused = run(logging_record({"configured": False}), iot)
    assert refused.item.outcome == "refused-drifted"
    assert "DEBUG" in refused.item.details[0]
    assert iot.writes == []
    assert run(logging_record({"configured": False}), iot, dry_run=True).item.outcome == "refused-drifted"
    forced = run(logging_record({"configured": False}), iot, force=True)
    assert forced.item.outcome == "forced"
    assert iot.writes == [("set_logging_options", "DISABLED", "True")]


def test_a_dry_run_turns_no_logging_off() -> None:
    iot = Iot(logging=dict(LOGGING_ON))
    outcome = run(logging_record({"configured": False}), iot, dry_run=True)
    assert outcome.item.outcome == "would-restore"
    assert iot.writes == []


def test_logging_that_iot_refuses_to_turn_off_without_a_role_fails_with_the_command() -> None:
    iot = Iot(logging=dict(LOGGING_ON), failing="set_logging_options")
    outcome = run(logging_record({"configured": False}), iot)
    assert outcome.item.outcome == "failed"
    assert outcome.observed is None
    assert outcome.item.details[-1] == "by hand: " + logging_command({"configured": False})
    assert iot.logging == LOGGING_ON


def test_logging_still_on_after_the_write_is_reported_failed_never_restored() -> None:
    iot = Iot(logging=dict(LOGGING_ON), logging_without_role="ignores")
    outcome = run(logging_record({"configured": False}), iot)
    assert outcome.item.outcome == "failed"
    assert any("is on (level ERROR" in line and "not as recorded" in line for line in outcome.item.details)
    assert outcome.observed is None


@pytest.mark.parametrize(
    "scope",
    [{}, {"all": True, "thing": "sensor"}, {"findingId": "f1", "thing": "sensor"}],
)
def test_a_request_names_exactly_one_scope(scope: dict[str, Any]) -> None:
    with pytest.raises(RollbackRequestError, match="exactly one of thing, findingId or all"):
        parse_request({"auditTaskId": "a1", "callerArn": CALLER, **scope})


@dataclass
class Store:
    records: list[RollbackRecord]
    results: list[tuple[str, str]] = field(default_factory=list)

    def page(self, _audit: str, cursor: Any, page_size: int, finding_id: str | None) -> Any:
        start = int(cursor["sk"]["S"]) if cursor else 0
        chosen = self.records[start : start + page_size]
        more = start + page_size < len(self.records)
        return chosen, ({"pk": {"S": "p"}, "sk": {"S": str(start + page_size)}} if more else None)

    def put_result(
        self, _audit: str, record: RollbackRecord, result: str, caller: str, _observed: Any
    ) -> None:
        assert caller == CALLER
        self.results.append((record.finding_id, result))


@dataclass
class Published:
    messages: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, subject: str, message: str) -> None:
        self.messages.append((subject, message))


def test_a_page_records_each_result_sets_restored_findings_back_to_new_and_reports_at_the_end() -> None:
    # Given two deactivated devices of one task and a thing scope naming the first one's thing
    iot = Iot(
        certificates={"c1": "INACTIVE", "c2": "INACTIVE"},
        groups={"sensor": {"sensors", QUARANTINE}},
        principals={"sensor": {"c1"}},
    )
    other = RollbackRecord(
        "f2",
        "task-1",
        "DEVICE_CERTIFICATE_SHARED_CHECK",
        ("deactivate",),
        {"certificate": {"id": "c2", "status": "ACTIVE"}},
        None,
        None,
    )
    store, reports, synced = Store([device_record(), other]), Published(), []

    def sync(request: SecurityHubSyncRequest) -> SecurityHubSyncResult:
        synced.append(request)
        return SecurityHubSyncResult(sync="done", updated=list(request.finding_ids))

    request = RollbackRequest.model_validate({"auditTaskId": "a1", "thing": "sensor", "callerArn": CALLER})
    page = rollback_page(request, store, iot, sync, reports)

    assert store.results == [("f1", "restored")]
    assert iot.certificates == {"c1": "ACTIVE", "c2": "INACTIVE"}
    assert [(r.finding_ids, r.workflow_status, r.mitigation_task_id) for r in synced] == [
        (["f1"], "NEW", "task-1")
    ]
    assert (page.totals.restored, page.totals.security_hub_updated, page.reported) == (1, 1, True)
    [(subject, message)] = reports.messages
    assert subject == "Rollback of audit a1: 1 restored, 0 refused"
    assert "f1 (DEVICE_CERTIFICATE_SHARED_CHECK, task task-1): restored" in message


def test_a_record_restored_by_a_run_that_failed_to_record_it_sets_its_finding_back_to_new() -> None:
    # Given a device already as before, whose record no rollback has recorded, and one recorded earlier
    iot = Iot(certificates={"c1": "ACTIVE"}, groups={"sensor": {"sensors"}})
    recorded = dataclasses.replace(device_record(finding="f2"), rollback_result="restored")
    store, synced = Store([device_record(), recorded]), []

    def sync(request: SecurityHubSyncRequest) -> SecurityHubSyncResult:
        synced.append(request)
        return SecurityHubSyncResult(sync="done", updated=list(request.finding_ids))

    request = RollbackRequest.model_validate({"auditTaskId": "a1", "all": True, "callerArn": CALLER})
    rollback_page(request, store, iot, sync, Published())

    assert store.results == [("f1", "already-restored"), ("f2", "already-restored")]
    assert [(r.finding_ids, r.workflow_status, r.only_from) for r in synced] == [(["f1"], "NEW", "RESOLVED")]


def test_a_dry_run_page_records_nothing_syncs_nothing_and_publishes_nothing() -> None:
    iot, store, reports = remediated(), Store([device_record()]), Published()
    request = RollbackRequest.model_validate(
        {"auditTaskId": "a1", "all": True, "dryRun": True, "callerArn": CALLER}
    )
    page = rollback_page(request, store, iot, lambda r: pytest.fail("no Security Hub call"), reports)
    assert (page.totals.would_restore, store.results, reports.messages, iot.writes) == (1, [], [], [])


def test_pages_carry_bounded_totals_and_the_report_waits_for_the_last_page() -> None:
    # Given more records than one page and than the listed items, rolled back before
    records = [
        dataclasses.replace(device_record(finding=f"f{n}"), rollback_result="restored")
        for n in range(MAX_LISTED + 50)
    ]
    iot, store, reports = (
        Iot(certificates={"c1": "ACTIVE"}, groups={"sensor": {"sensors"}}),
        Store(records),
        Published(),
    )
    request = RollbackRequest.model_validate({"auditTaskId": "a1", "all": True, "callerArn": CALLER})

    first = rollback_page(request, store, iot, lambda r: pytest.fail("nothing restored"), reports)
    assert (first.cursor is not None, first.reported, reports.messages) == (True, False, [])
    second = rollback_page(
        request.model_copy(update={"cursor": first.cursor, "totals": first.totals}),
        store,
        iot,
        lambda r: pytest.fail("nothing restored"),
        reports,
    )

    assert (second.cursor, second.reported, second.totals.already_restored) == (None, True, MAX_LISTED + 50)
    assert len(second.totals.items) == MAX_LISTED
    assert len(reports.messages) == 1
