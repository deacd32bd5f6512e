"""Pre-start analysis: before any group starts, its findings, affected devices, exclusions and attempt
history are read from IoT and RemediationTable, not from the notification. No boto3 here: the readers
are parameters (adapters in production, fakes in the unit tests).

Per planned group (one mitigation task spec):
- findings: the audit's findings of the group's checks that its target covers;
- exclusions: a finding whose resource has an active Device Defender audit suppression, or that reaches a
  thing in a protected thing group, is held back (EXCLUDED) and never mitigated;
- attempts: a finding whose resource was remediated `maxAttempts` times within `windowDays` is held
  back (ESCALATED);
- impact: the distinct devices the remaining findings reach; over a rule's or the stack's cap the whole
  group goes to an operator for approval (APPROVAL_REQUESTED, mode approve), as does every group of a
  rule in mode approve: nothing of it starts unless an operator approves it;
- a group that holds nothing back starts as planned; one that holds findings back starts with explicit
  findingIds targets (at most 25 per task) for the rest, never the whole-audit target.
Any error reading these (an AnalysisReadError) means that nothing of that group starts.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from audit_remediator.checks import ActionType
from audit_remediator.errors import AnalysisReadError
from audit_remediator.models.analysis import (
    MAX_EXPLICIT_TASKS_PER_GROUP,
    MAX_HELD_LISTED,
    MAX_TASKS_PER_EXECUTION,
    AnalysisRequest,
    AnalysisResult,
    GroupAnalysis,
    GroupStatus,
    HeldFinding,
    HeldStatus,
)
from audit_remediator.models.plan import (
    MAX_FINDING_IDS_PER_TASK,
    ApprovalNeed,
    FindingIdsTarget,
    MitigationTaskSpec,
    RemediationMode,
)
from audit_remediator.rules import DeviceCaps, ResolvedRule, RuleSet

SECONDS_PER_DAY = 86400
# The action types that change what a device may do: their groups' devices are counted and protected.
DEVICE_CHANGING = frozenset(
    {
        ActionType.UPDATE_DEVICE_CERTIFICATE,
        ActionType.UPDATE_CA_CERTIFICATE,
        ActionType.ADD_THINGS_TO_THING_GROUP,
        ActionType.REPLACE_DEFAULT_POLICY_VERSION,
    }
)


@dataclass(frozen=True, slots=True)
class AuditFindingView:
    """The parts of ListAuditFindings' AuditFinding the analysis reads."""

    finding_id: str
    check: str
    reason_code: str
    resource_type: str
    resource_identifier: Mapping[str, Any]
    # When IoT found it (ISO 8601 UTC); the start of its time to remediate.
    finding_time: str | None = None


class IotReads(Protocol):
    def findings(self, audit_task_id: str, check: str) -> Iterable[AuditFindingView]: ...

    def active_suppressions(self, now_epoch: int) -> frozenset[tuple[str, str]]:
        """(check name, resource key) of every suppression in force at `now_epoch`."""
        ...

    def things_in_groups(self, group_names: Iterable[str]) -> Mapping[str, str]:
        """Thing name -> the protected group (or subgroup of it) it belongs to."""
        ...

    def devices_of(self, finding: AuditFindingView) -> frozenset[str]:
        """The devices a finding's resource reaches: thing names, or `cert/<id>` for a certificate no
        thing is attached to (a device can connect with it all the same)."""
        ...

    def fleet_size(self) -> int: ...


class AttemptLog(Protocol):
    def attempts_since(self, resource: str, since_epoch: int, excluding_task: str) -> int: ...

    def record(self, resource: str, task_id: str, at_epoch: int, expires_epoch: int) -> None: ...


def resource_key(identifier: Mapping[str, Any]) -> str:
    """A canonical text key of a ResourceIdentifier: suppressions and findings are compared by it."""
    return json.dumps(identifier, sort_keys=True, separators=(",", ":"))


def attempt_resource(identifier: Mapping[str, Any]) -> str:
    """The resource whose remediations are counted. A policy is counted by name: the blank version a
    remediation makes default is a new version of the same policy."""
    flat: dict[str, str] = {}
    for key, value in sorted(identifier.items()):
        if isinstance(value, Mapping):
            flat |= {f"{key}.{k}": str(v) for k, v in sorted(value.items()) if k != "policyVersionId"}
        else:
            flat[key] = str(value)
    return ",".join(f"{key}={value}" for key, value in flat.items())


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    stack_remediation_mode: RemediationMode
    action_name_prefix: str


@dataclass
class _Shared:
    """Reads every group needs, made once per invocation and only when needed."""

    iot: IotReads
    protected_groups: tuple[str, ...]
    now_epoch: int
    _suppressions: frozenset[tuple[str, str]] | None = None
    _protected: Mapping[str, str] | None = None
    _fleet: int | None = None
    stack_devices: set[str] = field(default_factory=set)
    tasks_admitted: int = 0

    def suppressions(self) -> frozenset[tuple[str, str]]:
        if self._suppressions is None:
            self._suppressions = self.iot.active_suppressions(self.now_epoch)
        return self._suppressions

    def protected(self) -> Mapping[str, str]:
        if self._protected is None:
            self._protected = self.iot.things_in_groups(self.protected_groups)
        return self._protected

    def fleet(self) -> int:
        if self._fleet is None:
            self._fleet = self.iot.fleet_size()
        return self._fleet

    @property
    def fleet_if_read(self) -> int | None:
        return self._fleet


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _rule_of(rules: RuleSet, check: str, actions: list[str], prefix: str) -> ResolvedRule | None:
    names = tuple(name.removeprefix(prefix) for name in actions)
    return next((rule for rule in rules.rules_for(check) if rule.actions == names), None)


def _covered(task: MitigationTaskSpec, finding: AuditFindingView) -> bool:
    target = task.target
    if isinstance(target, FindingIdsTarget):
        return finding.finding_id in target.finding_ids
    return finding.reason_code in target.audit_check_to_reason_code_filter.get(finding.check, [])


def _over_cap(devices: int, caps: DeviceCaps, fleet: Callable[[], int], scope: str) -> str | None:
    if caps.max_devices is not None and devices > caps.max_devices:
        return f"{devices} affected devices > {scope} maxDevices {caps.max_devices}"
    if caps.max_fleet_percent is not None:
        size = fleet()
        if devices * 100 > caps.max_fleet_percent * size:
            return (
                f"{devices} affected devices > {scope} maxFleetPercent {caps.max_fleet_percent:g}% "
                f"of {size} things"
            )
    return None


def _explicit_tasks(task: MitigationTaskSpec, finding_ids: list[str]) -> list[MitigationTaskSpec]:
    ordered = sorted(set(finding_ids))
    size = MAX_FINDING_IDS_PER_TASK
    batches = [ordered[start : start + size] for start in range(0, len(ordered), size)]
    return [
        task.model_copy(
            update={
                "task_id": f"{task.task_id}-x{index}",
                "client_request_token": _digest("token", task.client_request_token, *batch)[:40],
                "target": FindingIdsTarget(finding_ids=batch),
                "affected_resources": len(batch),
            }
        )
        for index, batch in enumerate(batches)
    ]


class _GroupAnalyser:
    def __init__(
        self,
        request: AnalysisRequest,
        rules: RuleSet,
        settings: AnalysisSettings,
        shared: _Shared,
        attempts: AttemptLog,
        now_epoch: int,
    ) -> None:
        self.request, self.rules, self.settings = request, rules, settings
        self.shared, self.attempts, self.now = shared, attempts, now_epoch

    def acts(self, task: MitigationTaskSpec) -> bool:
        """Whether the task would really start (only then is an attempt recorded)."""
        return (
            task.mode == "enforce"
            and self.request.remediation_mode == "Enforce"
            and self.settings.stack_remediation_mode == "Enforce"
        )

    def analyse(self, task: MitigationTaskSpec) -> tuple[GroupAnalysis, list[MitigationTaskSpec]]:
        iot = self.shared.iot
        rules = {
            check: _rule_of(self.rules, check, actions, self.settings.action_name_prefix)
            for check, actions in task.audit_check_to_actions_mapping.items()
        }
        findings = [
            finding
            for check in sorted(task.audit_check_to_actions_mapping)
            for finding in iot.findings(self.request.audit_task_id, check)
            if finding.check == check and _covered(task, finding)
        ]
        held: list[HeldFinding] = []
        kept: list[tuple[AuditFindingView, frozenset[str]]] = []
        for finding in findings:
            rule = rules[finding.check]
            reached = iot.devices_of(finding) if self._changes_devices(rule) else frozenset()
            hold = self._exclusion(finding, reached) or self._escalation(task, finding, rule)
            if hold is None:
                kept.append((finding, reached))
            else:
                status, text = hold
                held.append(
                    HeldFinding(
                        finding_id=finding.finding_id,
                        check=finding.check,
                        resource=attempt_resource(finding.resource_identifier),
                        status=status,
                        reason=text,
                    )
                )
        devices = frozenset().union(*(d for _, d in kept))
        cap_reason = self._caps(task, kept, rules, devices)

        def outcome(status: GroupStatus, reason: str, started: list[MitigationTaskSpec]) -> GroupAnalysis:
            return GroupAnalysis(
                task_id=task.task_id,
                checks=task.checks,
                mode=task.mode,
                status=status,
                reason=reason,
                findings=len(findings),
                affected_devices=len(devices),
                fleet_size=self.shared.fleet_if_read,
                started_task_ids=[t.task_id for t in started],
                held=held[:MAX_HELD_LISTED],
                held_count=len(held),
            )

        approval = self._approval(task, cap_reason, len(findings) - len(held), len(devices))
        if not held:
            started = [task]
        elif not kept:
            return outcome("NOTHING_TO_START", "every finding of the group is excluded or escalated", []), []
        else:
            started = _explicit_tasks(task, [finding.finding_id for finding, _ in kept])
            if len(started) > MAX_EXPLICIT_TASKS_PER_GROUP:
                reason = (
                    f"{len(kept)} findings to target one by one: more than "
                    f"{MAX_EXPLICIT_TASKS_PER_GROUP * MAX_FINDING_IDS_PER_TASK} in one group"
                )
                return outcome("AWAITING_APPROVAL", reason, []), []
        if self.shared.tasks_admitted + len(started) > MAX_TASKS_PER_EXECUTION:
            reason = (
                f"more than {MAX_TASKS_PER_EXECUTION} tasks in one execution: the state would not hold them"
            )
            return outcome("AWAITING_APPROVAL", reason, []), []
        self.shared.tasks_admitted += len(started)
        if approval is not None:
            waiting = [t.model_copy(update={"mode": "approve", "approval": approval}) for t in started]
            return outcome("APPROVAL_REQUESTED", approval.reason, waiting), waiting
        if self.acts(task):
            self._record_attempts(task, [finding for finding, _ in kept])
        self.shared.stack_devices |= devices
        reason = (
            "started as planned" if not held else f"{len(held)} findings held back; the rest by findingIds"
        )
        return outcome("READY", reason, started), started

    @staticmethod
    def _approval(
        task: MitigationTaskSpec, cap_reason: str | None, findings: int, devices: int
    ) -> ApprovalNeed | None:
        """A group over a cap, or of a rule in mode approve, waits for an operator; a dry-run rule's
        group over a cap stays a dry run (it starts nothing either way)."""
        if cap_reason is not None and task.mode != "dry-run":
            reason = f"over its cap: {cap_reason}"
        elif task.approval is not None:
            reason = task.approval.reason
        elif task.mode == "approve":
            reason = "its rule's mode is approve"
        else:
            return None
        return ApprovalNeed(reason=reason, findings=findings, affected_devices=devices)

    def _exclusion(self, finding: AuditFindingView, devices: frozenset[str]) -> tuple[HeldStatus, str] | None:
        if (finding.check, resource_key(finding.resource_identifier)) in self.shared.suppressions():
            return "EXCLUDED", "suppressed: an audit suppression in force covers this resource"
        protected = self.shared.protected()
        for device in sorted(devices):
            if device in protected:
                return "EXCLUDED", f"protected: thing {device} is in thing group {protected[device]}"
        return None

    def _types(self, rule: ResolvedRule | None) -> set[ActionType] | None:
        if rule is None:
            return None
        return {self.rules.table.actions[name].type for name in rule.actions}

    def _changes_devices(self, rule: ResolvedRule | None) -> bool:
        """Publishing a finding or enabling logging changes no device: nothing to count or protect.
        A group whose rule is not in this table is counted, to be safe."""
        types = self._types(rule)
        return types is None or bool(types & DEVICE_CHANGING)

    def _limited(self, rule: ResolvedRule | None) -> ResolvedRule | None:
        """The rule whose attempt limit applies: only a rule of this table whose actions change devices.
        Enabling logging again is harmless and idempotent; escalating it would leave logging off."""
        types = self._types(rule)
        return rule if rule is not None and types is not None and types & DEVICE_CHANGING else None

    def _escalation(
        self, task: MitigationTaskSpec, finding: AuditFindingView, rule: ResolvedRule | None
    ) -> tuple[HeldStatus, str] | None:
        limited = self._limited(rule)
        if limited is None:
            return None
        limit = limited.attempts
        since = self.now - limit.window_days * SECONDS_PER_DAY
        resource = attempt_resource(finding.resource_identifier)
        count = self.attempts.attempts_since(resource, since, excluding_task=task.task_id)
        if count >= limit.max_attempts:
            return "ESCALATED", (
                f"escalated: remediated {count} times in the last {limit.window_days} days "
                f"(maxAttempts {limit.max_attempts}); needs a human"
            )
        return None

    def _caps(
        self,
        task: MitigationTaskSpec,
        kept: list[tuple[AuditFindingView, frozenset[str]]],
        rules: Mapping[str, ResolvedRule | None],
        devices: frozenset[str],
    ) -> str | None:
        for check in task.checks:
            rule = rules.get(check)
            if rule is None:
                continue
            check_devices = frozenset().union(*(d for f, d in kept if f.check == check))
            caps = DeviceCaps(max_devices=rule.max_devices, max_fleet_percent=rule.max_fleet_percent)
            reason = _over_cap(len(check_devices), caps, self.shared.fleet, f"{check} rule")
            if reason is not None:
                return reason
        total = len(self.shared.stack_devices | devices)
        return _over_cap(total, self.rules.table.stack_caps, self.shared.fleet, "stack")

    def _record_attempts(self, task: MitigationTaskSpec, findings: list[AuditFindingView]) -> None:
        """One attempt per resource whose devices the task changes."""
        for finding in findings:
            actions = task.audit_check_to_actions_mapping[finding.check]
            limited = self._limited(
                _rule_of(self.rules, finding.check, actions, self.settings.action_name_prefix)
            )
            if limited is None:
                continue
            limit = limited.attempts
            self.attempts.record(
                attempt_resource(finding.resource_identifier),
                task.task_id,
                self.now,
                self.now + limit.window_days * SECONDS_PER_DAY,
            )


def analyse_plan(
    request: AnalysisRequest,
    rules: RuleSet,
    settings: AnalysisSettings,
    iot: IotReads,
    attempts: AttemptLog,
    now_epoch: int,
) -> AnalysisResult:
    """Every planned group analysed in plan order; the stack caps count the groups admitted before."""
    shared = _Shared(iot, tuple(rules.table.protected_thing_groups), now_epoch)
    analyser = _GroupAnalyser(request, rules, settings, shared, attempts, now_epoch)
    groups: list[GroupAnalysis] = []
    tasks: list[MitigationTaskSpec] = []
    for task in request.tasks:
        try:
            group, started = analyser.analyse(task)
        except AnalysisReadError as error:
            group = GroupAnalysis(
                task_id=task.task_id,
                checks=task.checks,
                mode=task.mode,
                status="ANALYSIS_FAILED",
                reason=f"analysis-failed: {error}; nothing of this group was started",
                findings=0,
                affected_devices=0,
                started_task_ids=[],
                held=[],
                held_count=0,
            )
            started = []
        groups.append(group)
        tasks.extend(started)
    return AnalysisResult(tasks=tasks, groups=groups)
