"""The pre-start analysis (failure-modes D29, D32, D35, property 10): devices counted from IoT, exclusions,
attempt limits and caps, with in-memory readers in place of IoT and RemediationTable."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from audit_remediator.errors import AnalysisReadError, RulesError
from audit_remediator.impact import (
    AnalysisSettings,
    AuditFindingView,
    analyse_plan,
    attempt_resource,
    resource_key,
)
from audit_remediator.models.analysis import AnalysisRequest, AnalysisResult
from audit_remediator.models.plan import ApprovalNeed
from audit_remediator.rules import RuleSet, load_rules, parse_rules
from tests.unit.test_rules import RULES_FILE

AUDIT = "a" * 32
PREFIX = "stack-"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"
ENFORCE = AnalysisSettings(stack_remediation_mode="Enforce", action_name_prefix=PREFIX)
NOW = 1_800_000_000
DAY = 86400


REASONS = {
    SHARED: "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",
    POLICY: "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
    LOGGING: "LOGGING_DISABLED",
    "CONFLICTING_CLIENT_IDS_CHECK": "DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS",
}


def cert(certificate_id: str) -> dict[str, Any]:
    return {"deviceCertificateId": certificate_id}


def view(finding_id: str, check: str, identifier: Mapping[str, Any], reason: str = "") -> AuditFindingView:
    code = reason or REASONS[check]
    return AuditFindingView(finding_id, check, code, "DEVICE_CERTIFICATE", identifier)


@dataclass
class FakeIot:
    """IoT as the analysis reads it; `fail` names the reads that raise, `reads` counts the calls."""

    findings_by_check: dict[str, list[AuditFindingView]] = field(default_factory=dict)
    devices: dict[str, frozenset[str]] = field(default_factory=dict)
    suppressed: set[tuple[str, str]] = field(default_factory=set)
    groups: dict[str, set[str]] = field(default_factory=dict)
    fleet: int = 1000
    fail: set[str] = field(default_factory=set)
    reads: dict[str, int] = field(default_factory=dict)

    def _read(self, name: str, check: str = "") -> None:
        self.reads[name] = self.reads.get(name, 0) + 1
        if name in self.fail or f"{name}:{check}" in self.fail:
            raise AnalysisReadError(f"IoT {name} failed: ThrottlingException")

    def findings(self, audit_task_id: str, check: str) -> Iterable[AuditFindingView]:
        self._read("findings", check)
        return list(self.findings_by_check.get(check, [])) if audit_task_id == AUDIT else []

    def active_suppressions(self, now_epoch: int) -> frozenset[tuple[str, str]]:
        self._read("suppressions")
        return frozenset(self.suppressed)

    def things_in_groups(self, group_names: Iterable[str]) -> Mapping[str, str]:
        self._read("protected")
        return {thing: group for group in group_names for thing in self.groups.get(group, set())}

    def devices_of(self, finding: AuditFindingView) -> frozenset[str]:
        self._read("devices")
        return self.devices.get(resource_key(finding.resource_identifier), frozenset())

    def fleet_size(self) -> int:
        self._read("fleet")
        return self.fleet


@dataclass
class FakeAttempts:
    items: dict[str, dict[str, int]] = field(default_factory=dict)
    fail: bool = False

    def attempts_since(self, resource: str, since_epoch: int, excluding_task: str) -> int:
        if self.fail:
            raise AnalysisReadError("reading the attempts failed: ProvisionedThroughputExceededException")
        return sum(
            1
            for task, at in self.items.get(resource, {}).items()
            if task != excluding_task and at >= since_epoch
        )

    def record(self, resource: str, task_id: str, at_epoch: int, expires_epoch: int) -> None:
        if self.fail:
            raise AnalysisReadError("recording the attempt failed")
        self.items.setdefault(resource, {})[task_id] = at_epoch


def audit_task(
    checks: Mapping[str, list[str]], *, mode: str = "enforce", task_id: str = ""
) -> dict[str, Any]:
    return {
        "taskId": task_id or f"{AUDIT}-{'0' * 20}",
        "clientRequestToken": "t" * 40,
        "mode": mode,
        "target": {
            "auditTaskId": AUDIT,
            "auditCheckToReasonCodeFilter": {check: [view("x", check, {}).reason_code] for check in checks},
        },
        "auditCheckToActionsMapping": {
            check: [PREFIX + a for a in actions] for check, actions in checks.items()
        },
        "checks": sorted(checks),
        "affectedResources": 1,
    }


SHARED_ACTIONS = {SHARED: ["QuarantineThingsAction", "DeactivateDeviceCertificateAction"]}
POLICY_ACTIONS = {POLICY: ["ReplacePolicyWithBlankAction"]}
LOGGING_ACTIONS = {LOGGING: ["EnableErrorLoggingAction"]}


def analyse(
    iot: FakeIot,
    *tasks: dict[str, Any],
    attempts: FakeAttempts | None = None,
    rules: RuleSet | None = None,
    now: int = NOW,
    mode: str = "Enforce",
) -> AnalysisResult:
    request = AnalysisRequest.model_validate(
        {"auditTaskId": AUDIT, "rulesVersion": "v1", "remediationMode": mode, "tasks": list(tasks)}
    )
    return analyse_plan(request, rules or load_rules(), ENFORCE, iot, attempts or FakeAttempts(), now)


def rules_with(**changes: Any) -> RuleSet:
    document = yaml.safe_load(RULES_FILE.read_text())
    document.update(changes)
    return parse_rules(yaml.safe_dump(document))


def shared_fleet(count: int, things: str = "ab") -> FakeIot:
    """`count` shared certificates, each attached to its own things (one per letter of `things`)."""
    findings = [view(f"f{i:03}", SHARED, cert(f"c{i:03}")) for i in range(count)]
    devices = {resource_key(cert(f"c{i:03}")): frozenset(f"t{i}{t}" for t in things) for i in range(count)}
    return FakeIot(findings_by_check={SHARED: findings}, devices=devices)


def test_a_policy_reaching_40_devices_is_counted_as_40_and_waits_for_approval_not_started() -> None:
    # Given one finding on a policy whose targets reach 40 things (the policy rule caps 25 devices)
    policy = {"policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}}
    iot = FakeIot(
        findings_by_check={POLICY: [view("p1", POLICY, policy)]},
        devices={resource_key(policy): frozenset(f"sensor-{i}" for i in range(40))},
    )

    # When the group is analysed
    planned = audit_task(POLICY_ACTIONS)
    result = analyse(iot, planned)

    # Then it affects 40 devices, not one finding's worth, and the whole group goes on only to approval
    [group] = result.groups
    assert (group.findings, group.affected_devices) == (1, 40)
    assert group.status == "APPROVAL_REQUESTED"
    assert group.reason == f"over its cap: 40 affected devices > {POLICY} rule maxDevices 25"
    [waiting] = result.tasks
    assert waiting.mode == "approve"
    assert waiting.approval == ApprovalNeed(reason=group.reason, findings=1, affected_devices=40)
    assert waiting.target.model_dump(by_alias=True) == planned["target"]


def test_a_group_holding_nothing_back_starts_exactly_as_planned() -> None:
    iot = shared_fleet(3)
    planned = audit_task(SHARED_ACTIONS)

    result = analyse(iot, planned)

    [group] = result.groups
    assert (group.status, group.affected_devices, group.held_count) == ("READY", 6, 0)
    assert [task.model_dump(by_alias=True, exclude_none=True) for task in result.tasks] == [planned]


def test_a_suppressed_finding_is_excluded_and_the_rest_start_by_finding_ids_never_by_the_audit() -> None:
    # Given 30 shared certificates, one of them under an audit suppression
    iot = shared_fleet(30, things="a")
    iot.suppressed.add((SHARED, resource_key(cert("c007"))))

    result = analyse(iot, audit_task(SHARED_ACTIONS))

    # Then the 29 others start as explicit findingIds targets of at most 25, and f007 is never targeted
    [group] = result.groups
    assert group.status == "READY"
    assert [held.finding_id for held in group.held] == ["f007"]
    assert group.held[0].status == "EXCLUDED"
    assert group.held[0].reason.startswith("suppressed:")
    targets = [task.target.model_dump(by_alias=True, exclude_none=True) for task in result.tasks]
    assert all(set(target) == {"findingIds"} for target in targets)
    ids = [finding_id for target in targets for finding_id in target["findingIds"]]
    assert [len(target["findingIds"]) for target in targets] == [25, 4]
    assert sorted(ids) == sorted(f"f{i:03}" for i in range(30) if i != 7)
    assert len({task.task_id for task in result.tasks}) == 2
    assert len({task.client_request_token for task in result.tasks}) == 2


def test_a_finding_reaching_a_protected_thing_is_excluded_with_the_group_named() -> None:
    iot = shared_fleet(3)
    iot.groups["critical-infrastructure"] = {"t1b"}

    result = analyse(iot, audit_task(SHARED_ACTIONS))

    [group] = result.groups
    [held] = group.held
    assert (held.finding_id, held.status) == ("f001", "EXCLUDED")
    assert held.reason == "protected: thing t1b is in thing group critical-infrastructure"
    assert [task.target.model_dump(by_alias=True) for task in result.tasks] == [
        {"findingIds": ["f000", "f002"]}
    ]
    assert group.affected_devices == 4


def test_a_group_whose_every_finding_is_excluded_starts_nothing() -> None:
    iot = shared_fleet(1)
    iot.groups["critical-infrastructure"] = {"t0a"}

    result = analyse(iot, audit_task(SHARED_ACTIONS))

    assert [group.status for group in result.groups] == ["NOTHING_TO_START"]
    assert result.tasks == []


def test_the_fourth_attempt_on_one_certificate_is_escalated_and_not_recorded() -> None:
    attempts = FakeAttempts()
    resource = attempt_resource(cert("c000"))
    # Given three analyses that started a task on c000 within 30 days
    for run in range(3):
        result = analyse(
            shared_fleet(1),
            audit_task(SHARED_ACTIONS, task_id=f"run-{run}"),
            attempts=attempts,
            now=NOW + run * DAY,
        )
        assert result.groups[0].held_count == 0
    assert len(attempts.items[resource]) == 3

    # When a fourth audit finds it again, beside another certificate
    result = analyse(
        shared_fleet(2), audit_task(SHARED_ACTIONS, task_id="run-3"), attempts=attempts, now=NOW + 3 * DAY
    )

    # Then c000 is escalated, the other certificate is still remediated, and no fourth attempt is recorded
    [group] = result.groups
    [held] = group.held
    assert (held.finding_id, held.status) == ("f000", "ESCALATED")
    assert "remediated 3 times in the last 30 days" in held.reason
    assert [task.target.model_dump(by_alias=True) for task in result.tasks] == [{"findingIds": ["f001"]}]
    assert len(attempts.items[resource]) == 3


def test_attempts_older_than_the_window_and_the_same_task_again_do_not_count() -> None:
    iot = shared_fleet(1)
    resource = attempt_resource(cert("c000"))
    attempts = FakeAttempts(
        {resource: {"old-1": NOW - 31 * DAY, "old-2": NOW - 40 * DAY, "again": NOW - DAY}}
    )
    attempts.items[resource]["recent"] = NOW - 2 * DAY

    result = analyse(iot, audit_task(SHARED_ACTIONS, task_id="again"), attempts=attempts)

    assert result.groups[0].held_count == 0


@pytest.mark.parametrize(("task_mode", "stack_mode"), [("dry-run", "Enforce"), ("enforce", "DryRun")])
def test_a_dry_run_records_no_attempt(task_mode: str, stack_mode: str) -> None:
    attempts = FakeAttempts()

    result = analyse(
        shared_fleet(1), audit_task(SHARED_ACTIONS, mode=task_mode), attempts=attempts, mode=stack_mode
    )

    assert result.groups[0].status == "READY"
    assert attempts.items == {}


def test_the_fleet_percentage_cap_reads_the_fleet_size_only_when_a_rule_sets_one() -> None:
    iot = shared_fleet(3)
    iot.fleet = 100
    assert analyse(iot, audit_task(SHARED_ACTIONS)).groups[0].status == "READY"
    assert "fleet" not in iot.reads

    result = analyse(iot, audit_task(SHARED_ACTIONS), rules=rules_with(stackCaps={"maxFleetPercent": 5}))

    [group] = result.groups
    assert group.status == "APPROVAL_REQUESTED"
    assert group.reason == "over its cap: 6 affected devices > stack maxFleetPercent 5% of 100 things"
    assert group.fleet_size == 100


def test_the_stack_cap_counts_the_groups_admitted_before_and_holds_the_one_that_crosses_it() -> None:
    iot = shared_fleet(3)
    policy = {"policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}}
    iot.findings_by_check[POLICY] = [view("p1", POLICY, policy)]
    iot.devices[resource_key(policy)] = frozenset({"t0a", "x1", "x2"})

    result = analyse(
        iot,
        audit_task(SHARED_ACTIONS, task_id="first"),
        audit_task(POLICY_ACTIONS, task_id="second"),
        rules=rules_with(stackCaps={"maxDevices": 7}),
    )

    assert [(g.task_id, g.status) for g in result.groups] == [
        ("first", "READY"),
        ("second", "APPROVAL_REQUESTED"),
    ]
    assert result.groups[1].reason == "over its cap: 8 affected devices > stack maxDevices 7"
    assert [(task.task_id, task.mode) for task in result.tasks] == [
        ("first", "enforce"),
        ("second", "approve"),
    ]


@pytest.mark.parametrize("failing", ["findings", "suppressions", "protected", "devices"])
def test_an_error_reading_iot_starts_nothing_of_the_group(failing: str) -> None:
    iot = shared_fleet(2)
    iot.fail.add(failing)

    result = analyse(iot, audit_task(SHARED_ACTIONS))

    [group] = result.groups
    assert group.status == "ANALYSIS_FAILED"
    assert "ThrottlingException" in group.reason
    assert result.tasks == []


@pytest.mark.parametrize("failing", ["findings", "fleet"])
def test_an_error_reading_caps_starts_nothing(failing: str) -> None:
    iot = shared_fleet(2)
    iot.fail.add(failing)

    result = analyse(iot, audit_task(SHARED_ACTIONS), rules=rules_with(stackCaps={"maxFleetPercent": 50}))

    assert [g.status for g in result.groups] == ["ANALYSIS_FAILED"]
    assert result.tasks == []


def test_an_error_reading_or_writing_attempts_starts_nothing() -> None:
    result = analyse(shared_fleet(2), audit_task(SHARED_ACTIONS), attempts=FakeAttempts(fail=True))

    assert [g.status for g in result.groups] == ["ANALYSIS_FAILED"]
    assert result.tasks == []


def test_a_failed_group_does_not_stop_the_analysis_of_the_next() -> None:
    iot = shared_fleet(1)
    iot.findings_by_check[LOGGING] = [view("l1", LOGGING, {"account": "123456789012"})]
    iot.fail.add(f"findings:{SHARED}")

    result = analyse(
        iot, audit_task(SHARED_ACTIONS, task_id="shared"), audit_task(LOGGING_ACTIONS, task_id="logging")
    )

    assert [(g.task_id, g.status) for g in result.groups] == [
        ("shared", "ANALYSIS_FAILED"),
        ("logging", "READY"),
    ]
    assert [task.task_id for task in result.tasks] == ["logging"]


def test_the_packaged_table_protects_critical_infrastructure_and_limits_attempts_to_3_in_30_days() -> None:
    rules = load_rules()
    assert rules.table.protected_thing_groups == ["critical-infrastructure"]
    [shared] = rules.rules_for(SHARED)
    assert (shared.attempts.max_attempts, shared.attempts.window_days) == (3, 30)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"protectedThingGroups": ["bad group!"]}, "protectedThingGroups.0"),
        ({"attempts": {"maxAttempts": 0, "windowDays": 30}}, "attempts.maxAttempts"),
        ({"stackCaps": {"maxFleetPercent": 150}}, "stackCaps.maxFleetPercent"),
    ],
)
def test_invalid_exclusions_caps_or_attempts_are_refused_by_name(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(RulesError, match=message):
        rules_with(**changes)


def test_publishing_findings_reaches_no_device_and_counts_no_attempt() -> None:
    # Given 30 client-id findings under the default rule (publish to the reports topic) and a stack cap of 1
    check = "CONFLICTING_CLIENT_IDS_CHECK"
    findings = [
        view(f"c{i}", check, {"clientId": f"client-{i}"}, "DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS")
        for i in range(30)
    ]
    iot = FakeIot(findings_by_check={check: findings})
    attempts = FakeAttempts()
    planned = audit_task({check: ["PublishFindingToReportsAction"]})

    result = analyse(iot, planned, attempts=attempts, rules=rules_with(stackCaps={"maxDevices": 1}))

    # Then it starts as planned: no device read, no attempt counted or recorded
    assert [(g.status, g.findings, g.affected_devices) for g in result.groups] == [("READY", 30, 0)]
    assert "devices" not in iot.reads
    assert attempts.items == {}


def test_no_more_tasks_start_than_one_executions_state_holds() -> None:
    # Given three groups of 500 findings each holding one suppressed finding back: 20 tasks of 25 ids each
    findings = [view(f"l{i:03}", LOGGING, {"account": f"{i:012}"}) for i in range(500)]
    iot = FakeIot(
        findings_by_check={LOGGING: findings}, suppressed={(LOGGING, resource_key({"account": f"{0:012}"}))}
    )

    result = analyse(iot, *(audit_task(LOGGING_ACTIONS, task_id=f"group-{n}") for n in range(3)))

    # Then the first two start (40 tasks in all) and the third waits, started in no part
    assert [g.status for g in result.groups] == ["READY", "READY", "AWAITING_APPROVAL"]
    assert result.groups[2].reason == "more than 40 tasks in one execution: the state would not hold them"
    assert len(result.tasks) == 40
    assert len(json.dumps(result.document())) < 200_000
