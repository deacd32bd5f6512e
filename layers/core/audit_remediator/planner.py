"""Pure planning: a notification and the rules become mitigation task specs. No I/O here.

Audit notifications are remediated with `{auditTaskId, auditCheckToReasonCodeFilter}` targets, so one
call covers any number of findings. A task maps every check to one action list, so the minimum number
of tasks per mode is the largest number of distinct action lists any single check needs (usually one).

Tasks carry their rule's own mode; a check over its rule's `maxResources` is planned on its own, in mode
`approve`, so it waits for an operator and never starts in part. The stack's RemediationMode travels beside them (`remediationMode`)
and never changes the plan: a dry run plans exactly what Enforce would start.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from audit_remediator.checks import api_check_name, check_info
from audit_remediator.models.notifications import AuditCompletionNotification, FindingNotification
from audit_remediator.models.plan import (
    MAX_FINDING_IDS_PER_TASK,
    ApprovalNeed,
    AuditFilterTarget,
    AuditPlan,
    CappedGroup,
    FindingIdsTarget,
    FindingWindow,
    FindingWindowPlan,
    MitigationTaskSpec,
    Mode,
    RemediationMode,
)
from audit_remediator.rules import ResolvedRule, RuleSet

# A finding goes into the window still open when its invocation must have ended (the function's
# timeout is 30 s), so its claim is in the inbox before the window's execution reads it.
LATE_CLAIM_MARGIN_SECONDS = 60


@dataclass(frozen=True, slots=True)
class PlanSettings:
    remediation_mode: RemediationMode
    action_name_prefix: str
    finding_window_seconds: int = 300


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def audit_execution_name(audit_task_id: str, rules_version: str) -> str:
    return f"audit-{audit_task_id}-{rules_version}"


def _action_names(rule: ResolvedRule, settings: PlanSettings) -> list[str]:
    return [settings.action_name_prefix + name for name in rule.actions]


@dataclass(slots=True)
class _Entry:
    """One check's share of one task: an action list and the reason codes it applies to."""

    check: str
    actions: tuple[str, ...]
    reason_codes: set[str]
    affected: int


def _tasks_for_mode(
    audit_task_id: str, rules_version: str, mode: Mode, entries: list[_Entry]
) -> list[MitigationTaskSpec]:
    per_check: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        merged = next((e for e in per_check[entry.check] if e.actions == entry.actions), None)
        if merged is None:
            per_check[entry.check].append(
                _Entry(entry.check, entry.actions, set(entry.reason_codes), entry.affected)
            )
        else:
            merged.reason_codes |= entry.reason_codes
    for check_entries in per_check.values():
        check_entries.sort(key=lambda entry: entry.actions)
    task_count = max((len(check_entries) for check_entries in per_check.values()), default=0)
    tasks = []
    for index in range(task_count):
        share = sorted(
            (check_entries[index] for check_entries in per_check.values() if index < len(check_entries)),
            key=lambda entry: entry.check,
        )
        group_key = "|".join(
            f"{e.check}:{','.join(sorted(e.reason_codes))}:{','.join(e.actions)}" for e in share
        )
        digest = _digest(audit_task_id, rules_version, mode, group_key)
        tasks.append(
            MitigationTaskSpec(
                task_id=f"{audit_task_id}-{digest[:20]}",
                client_request_token=_digest("token", digest)[:40],
                mode=mode,
                target=AuditFilterTarget(
                    audit_task_id=audit_task_id,
                    audit_check_to_reason_code_filter={e.check: sorted(e.reason_codes) for e in share},
                ),
                audit_check_to_actions_mapping={e.check: list(e.actions) for e in share},
                checks=[e.check for e in share],
                affected_resources=sum(e.affected for e in share),
            )
        )
    return tasks


HANDLED_BY_FINDINGS = "handled-by-findings: per-finding messages for this check were queued first"


def covered_checks(plan: AuditPlan) -> list[str]:
    """The checks an audit's execution would act on or report as capped."""
    return sorted(
        {check for task in plan.tasks for check in task.checks} | {group.check for group in plan.capped}
    )


def plan_audit(
    notification: AuditCompletionNotification,
    rules: RuleSet,
    settings: PlanSettings,
    handled_by_findings: frozenset[str] = frozenset(),
) -> AuditPlan:
    """The audit's plan; checks in `handled_by_findings` are left to the finding windows that own them."""
    skipped: dict[str, str] = {}
    capped: list[CappedGroup] = []
    entries: dict[Mode, list[_Entry]] = {"enforce": [], "approve": [], "dry-run": []}
    over_cap: list[MitigationTaskSpec] = []
    complete = notification.task_status == "COMPLETED"
    for detail in notification.audit_details:
        check = api_check_name(detail.check_name)
        if not complete:
            if detail.check_run_status == "COMPLETED_NON_COMPLIANT":
                skipped[check] = f"audit-incomplete: audit task {notification.task_status}"
            continue
        if detail.check_run_status != "COMPLETED_NON_COMPLIANT":
            if detail.check_run_status != "COMPLETED_COMPLIANT":
                cause = f" ({detail.error_code})" if detail.error_code else ""
                skipped[check] = f"check-not-completed: {detail.check_run_status}{cause}"
            continue
        if detail.non_compliant_resources_count == 0:
            skipped[check] = "no-resources: reported non-compliant with 0 resources"
            continue
        matched = rules.rules_for(check)
        if not matched:
            skipped[check] = "no-rule" if check_info(check) else "no-rule: unknown check"
            continue
        if check in handled_by_findings:
            skipped[check] = HANDLED_BY_FINDINGS
            continue
        affected = detail.non_compliant_resources_count
        for rule in matched:
            actions = _action_names(rule, settings)
            entry = _Entry(check, tuple(actions), set(rule.reason_codes), affected)
            if rule.max_resources is not None and affected > rule.max_resources and rule.mode != "dry-run":
                reason = f"over its cap: {affected} affected resources > maxResources {rule.max_resources}"
                over_cap.extend(
                    task.model_copy(update={"approval": ApprovalNeed(reason=reason, findings=affected)})
                    for task in _tasks_for_mode(notification.task_id, rules.version, "approve", [entry])
                )
                continue
            entries[rule.mode].append(entry)
    tasks = [
        task
        for mode in ("enforce", "approve", "dry-run")
        for task in _tasks_for_mode(notification.task_id, rules.version, mode, entries[mode])
    ] + over_cap
    return AuditPlan(
        account_id=notification.account_id,
        audit_task_id=notification.task_id,
        rules_version=rules.version,
        remediation_mode=settings.remediation_mode,
        tasks=tasks,
        capped=capped,
        skipped=skipped,
    )


def finding_rule(notification: FindingNotification, rules: RuleSet) -> tuple[ResolvedRule | None, str]:
    """The rule that covers a finding, or None with the reason there is none."""
    if notification.is_suppressed:
        return None, "suppressed: Device Defender does not mitigate suppressed findings"
    matched = rules.rules_for(notification.check_name)
    if not matched:
        return None, "no-rule" if check_info(notification.check_name) else "no-rule: unknown check"
    for rule in matched:
        if rule.covers(notification.reason_code):
            return rule, "rule matched"
    return None, f"no-rule: reason code {notification.reason_code} is not covered"


def plan_finding_window(
    notification: FindingNotification,
    rule: ResolvedRule,
    rules: RuleSet,
    settings: PlanSettings,
    account_id: str,
    now_epoch_seconds: float,
) -> tuple[str, FindingWindowPlan]:
    """The execution name and input of the time window this finding falls into."""
    seconds = settings.finding_window_seconds
    window_index = int((now_epoch_seconds + LATE_CLAIM_MARGIN_SECONDS) // seconds)
    mode = rule.mode
    digest = _digest(account_id, notification.task_id, rules.version, rule.rule_id, mode, str(window_index))
    plan = FindingWindowPlan(
        account_id=account_id,
        audit_task_id=notification.task_id,
        rules_version=rules.version,
        remediation_mode=settings.remediation_mode,
        window=FindingWindow(
            inbox_key=f"INBOX#{notification.task_id}#{rule.rule_id}#{rules.version}#{window_index}",
            closes_at=(window_index + 1) * seconds,
            seconds=seconds,
        ),
        check=api_check_name(notification.check_name),
        mode=mode,
        max_resources=rule.max_resources,
        audit_check_to_actions_mapping={
            api_check_name(notification.check_name): _action_names(rule, settings)
        },
        task_id_prefix=f"{notification.task_id}-{digest[:16]}",
        client_request_token_prefix=_digest("token", digest)[:40],
        over_cap_task=_whole_check_task(notification, rule, settings, rules.version),
    )
    return f"findings-{digest[:40]}", plan


def _whole_check_task(
    notification: FindingNotification, rule: ResolvedRule, settings: PlanSettings, rules_version: str
) -> MitigationTaskSpec:
    """The task a window over its cap becomes: the rule's whole check in the audit, as the audit's own plan
    would start it; over a cap it waits for approval, as an audit's group does. Its count is the window's."""
    check = api_check_name(notification.check_name)
    mode: Mode = "dry-run" if rule.mode == "dry-run" else "approve"
    entry = _Entry(check, tuple(_action_names(rule, settings)), set(rule.reason_codes), 0)
    [task] = _tasks_for_mode(notification.task_id, rules_version, mode, [entry])
    return task


def window_batches(plan: FindingWindowPlan, finding_ids: list[str]) -> list[MitigationTaskSpec]:
    """The tasks a window's execution starts: sorted finding ids in batches of at most 25."""
    ordered = sorted(set(finding_ids))
    size = MAX_FINDING_IDS_PER_TASK
    return [
        MitigationTaskSpec(
            task_id=f"{plan.task_id_prefix}-{index}",
            client_request_token=f"{plan.client_request_token_prefix}-{index}",
            mode=plan.mode,
            target=FindingIdsTarget(finding_ids=ordered[start : start + size]),
            audit_check_to_actions_mapping=plan.audit_check_to_actions_mapping,
            checks=[plan.check],
            affected_resources=len(ordered[start : start + size]),
        )
        for index, start in enumerate(range(0, len(ordered), size))
    ]
