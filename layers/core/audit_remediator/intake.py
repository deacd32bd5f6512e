"""What AuditEventsFunction does with one SNS delivery: read it, decide, start once.

`handle_event` reads the event (`inbound`: envelope, provenance, one JSON decode), decides with
the pure planner, and starts the execution through `start_once`, which production wraps in Powertools
idempotency. Collaborators come in as parameters (Protocols), so unit tests pass in-memory fakes.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from audit_remediator.errors import RejectedMessageError, RulesError
from audit_remediator.inbound import check_origin, envelope, parse_message
from audit_remediator.kill_switch import KillSwitch, KillSwitchPulledError
from audit_remediator.models.identifiers import execution_arn
from audit_remediator.models.notifications import AuditCompletionNotification, FindingNotification
from audit_remediator.models.plan import (
    AuditPlan,
    Claim,
    Decision,
    ExecutionRequest,
    FindingClaim,
    FindingIdsTarget,
    FindingWindowPlan,
    MitigationTaskSpec,
    OnceKey,
    Outcome,
    Started,
    StartedExecution,
)
from audit_remediator.observability import logger, metrics
from audit_remediator.planner import (
    PlanSettings,
    audit_execution_name,
    covered_checks,
    finding_rule,
    plan_audit,
    plan_finding_window,
    window_batches,
)
from audit_remediator.rules import RuleSet
from audit_remediator.settings import AuditEventsSettings


class ExecutionStarter(Protocol):
    def start(self, name: str, input_json: str) -> StartedExecution: ...


class History(Protocol):
    def record_decision(self, audit_task_id: str, record_key: str, decision: dict[str, Any]) -> None: ...

    def claim_checks(
        self, audit_task_id: str, rules_version: str, checks: list[str], execution_name: str
    ) -> dict[str, str]: ...

    def claim_finding(
        self, plan: FindingWindowPlan, claim: FindingClaim, execution_name: str, execution_input: str
    ) -> Claim: ...


class Quarantine(Protocol):
    def keep(self, event: Any, reason: str, message_id: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class StartOrder:
    """The execution a delivery asks for; a finding's first claims its place in the inbox."""

    name: str
    input_json: str
    claim: FindingClaim | None = None
    window: FindingWindowPlan | None = None


class StartOnce(Protocol):
    """`start_once`, run at most once per `request` (Powertools idempotency in production)."""

    def __call__(self, *, request: OnceKey, order: StartOrder, services: "Services") -> Started: ...


@dataclass
class Services:
    settings: AuditEventsSettings
    rules: Callable[[], RuleSet]
    executions: ExecutionStarter
    history: History
    quarantine: Quarantine
    start_once: StartOnce
    kill_switch: KillSwitch
    clock: Callable[[], float] = field(default=time.time)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _reject(
    services: Services, event: Any, rejection: RejectedMessageError, message_id: str | None
) -> Outcome:
    logger.warning(
        "message rejected",
        extra={"reason": rejection.reason, "detail": rejection.detail, "snsMessageId": message_id},
    )
    _count("RejectedMessages")
    services.quarantine.keep(event, str(rejection), message_id)
    return Outcome(
        decision="rejected",
        kind=rejection.kind,
        reason=str(rejection),
        rules_version=None,
        execution=None,
        mitigation_tasks=[],
        skipped={},
    )


def _plan_settings(settings: AuditEventsSettings) -> PlanSettings:
    return PlanSettings(
        remediation_mode=settings.remediation_mode,
        action_name_prefix=settings.mitigation_action_name_prefix,
        finding_window_seconds=settings.finding_window_seconds,
    )


def start_once(*, request: OnceKey, order: StartOrder, services: Services) -> Started:
    """Start the execution `order` names (a finding: after claiming its place in the inbox).

    Production runs it under Powertools idempotency keyed by `request`, so a delivery the store has
    seen gets the stored result (marked `replayed`) and a concurrent one gets
    IdempotencyAlreadyInProgressError; the function itself never looks at the key.

    The kill switch is read first, inside the idempotent call: pulled (or unreadable), it raises, so
    Powertools deletes the in-progress record and the same delivery after the release starts once.
    """
    reading = services.kill_switch.read()
    if reading.pulled:
        raise KillSwitchPulledError(reading.reason)
    if order.claim is None or order.window is None:
        started = services.executions.start(order.name, order.input_json)
        return Started(order.name, order.input_json, already_existed=started.already_existed)
    found = services.history.claim_finding(order.window, order.claim, order.name, order.input_json)
    if found.status == "covered":
        name = audit_execution_name(order.window.audit_task_id, request.rules_version)
        return Started(name, "", already_existed=True, covered=True)
    # A re-delivery restarts the execution its first delivery recorded: that delivery may have
    # stopped between its claim and its start. Starting a name twice is harmless. A new claim is this
    # finding's first delivery, whether or not another finding already started the window's execution.
    services.executions.start(found.execution_name, found.execution_input)
    return Started(found.execution_name, found.execution_input, already_existed=found.status == "earlier")


def _start(services: Services, request: OnceKey, order: StartOrder) -> Started | None:
    """`start_once` for this delivery; None while another invocation holds its key (that
    invocation's lock is left alone: it finishes or expires on its own)."""
    try:
        return services.start_once(request=request, order=order, services=services)
    except IdempotencyAlreadyInProgressError:
        logger.info("another invocation is handling this notification", extra={"onceKey": str(request)})
        return None


def _audit_reason(plan: AuditPlan, notification: AuditCompletionNotification) -> tuple[Decision, str]:
    enforce = sum(task.mode == "enforce" for task in plan.tasks)
    approve = sum(task.mode == "approve" for task in plan.tasks)
    dry_run = len(plan.tasks) - enforce - approve
    if notification.task_status != "COMPLETED":
        return "no-action", f"audit-incomplete: audit task {notification.task_status}"
    if plan.tasks:
        parts = [f"{enforce} enforce task(s)", f"{dry_run} dry-run task(s)"]
        if approve:
            parts.append(f"{approve} task(s) awaiting approval")
        if plan.capped:
            parts.append(f"{len(plan.capped)} capped group(s)")
        if plan.remediation_mode == "DryRun":
            parts.append("RemediationMode=DryRun")
        return "remediate", "planned " + ", ".join(parts)
    if plan.capped:
        return "no-action", f"capped: {len(plan.capped)} group(s) over maxResources need a human"
    if plan.skipped:
        return "no-action", "nothing to remediate: " + ", ".join(sorted(set(plan.skipped.values())))
    return "no-action", "compliant: no non-compliant checks"


def _handle_audit(services: Services, notification: AuditCompletionNotification, rules: RuleSet) -> Outcome:
    settings = _plan_settings(services.settings)
    plan = plan_audit(notification, rules, settings)
    name = audit_execution_name(notification.task_id, rules.version)
    covered = covered_checks(plan)
    if covered:
        # Before anything starts, and on every delivery (the claim is idempotent): a check whose
        # per-finding messages were queued first stays with the finding windows, so no finding gets
        # a second task. A re-delivery gets the same answer, hence the same plan and execution input.
        owned_elsewhere = services.history.claim_checks(notification.task_id, rules.version, covered, name)
        if owned_elsewhere:
            logger.info("checks handled by finding windows", extra={"checks": sorted(owned_elsewhere)})
            plan = plan_audit(notification, rules, settings, frozenset(owned_elsewhere))
    decision, reason = _audit_reason(plan, notification)
    if not plan.tasks and not plan.capped:
        services.history.record_decision(
            notification.task_id,
            rules.version,
            {"decision": decision, "reason": reason, "skipped": plan.skipped},
        )
        return _outcome("no-action", "audit", reason, rules, skipped=plan.skipped)
    request = OnceKey("audit", notification.account_id, notification.task_id, rules.version)
    started = _start(services, request, StartOrder(name, plan.model_dump_json(by_alias=True)))
    first = started is not None and not started.replayed and not started.already_existed
    if first:
        _count("ExecutionsStarted")
        metrics.add_metric(name="MitigationTasksPlanned", unit=MetricUnit.Count, value=len(plan.tasks))
    return _outcome(
        decision if first else "duplicate",
        "audit",
        reason if first else f"duplicate: execution {name} already started",
        rules,
        ExecutionRequest(name=name, input=plan),
        plan.tasks,
        plan.skipped,
    )


def _handle_finding(services: Services, notification: FindingNotification, rules: RuleSet) -> Outcome:
    settings = services.settings
    rule, why = finding_rule(notification, rules)
    if rule is None:
        services.history.record_decision(
            notification.task_id,
            f"{rules.version}#FINDING#{notification.finding_id}",
            {"decision": "no-action", "reason": why, "findingId": notification.finding_id},
        )
        return _outcome("no-action", "finding", why, rules, skipped={notification.check_name: why})
    name, plan = plan_finding_window(
        notification, rule, rules, _plan_settings(settings), settings.account_id, services.clock()
    )
    claim = FindingClaim(
        finding_id=notification.finding_id, check=plan.check, reason_code=notification.reason_code
    )
    request = OnceKey(
        "finding", settings.account_id, notification.task_id, rules.version, notification.finding_id
    )
    order = StartOrder(name, plan.model_dump_json(by_alias=True), claim, plan)
    started = _start(services, request, order)
    if started is None or started.replayed or started.already_existed:
        if started is not None and started.covered:
            why = f"duplicate: the audit's own execution {started.execution_name} covers {claim.check}"
        else:
            why = f"duplicate: finding {notification.finding_id} already queued"
        recorded = None
        if started is not None and started.execution_input:
            recorded = ExecutionRequest(
                name=started.execution_name,
                input=FindingWindowPlan.model_validate_json(started.execution_input),
            )
        return _outcome("duplicate", "finding", why, rules, recorded)
    mode = ", RemediationMode=DryRun)" if plan.remediation_mode == "DryRun" else ")"
    return _outcome(
        "remediate",
        "finding",
        f"finding queued in a {plan.window.seconds}s window (mode {plan.mode}{mode}",
        rules,
        ExecutionRequest(name=name, input=plan),
        window_batches(plan, [notification.finding_id]),
    )


def _outcome(
    decision: Decision,
    kind: Literal["audit", "finding"],
    reason: str,
    rules: RuleSet,
    execution: ExecutionRequest | None = None,
    tasks: list[MitigationTaskSpec] | None = None,
    skipped: dict[str, str] | None = None,
) -> Outcome:
    return Outcome(
        decision=decision,
        kind=kind,
        reason=reason,
        rules_version=rules.version,
        execution=execution,
        mitigation_tasks=tasks or [],
        skipped=skipped or {},
    )


def _log_decision(outcome: Outcome, settings: AuditEventsSettings) -> None:
    """The decision, once, with what an auditor needs to find its execution and tasks (property 13)."""
    execution = outcome.execution
    logger.info(
        "decision",
        extra={
            "decision": outcome.decision,
            "reason": outcome.reason,
            "rulesVersion": outcome.rules_version,
            "executionName": execution.name if execution else None,
            "executionArn": execution_arn(settings.state_machine_arn, execution.name) if execution else None,
            "mitigationTaskIds": [task.task_id for task in outcome.mitigation_tasks],
            "affectedResources": sum(task.affected_resources for task in outcome.mitigation_tasks),
            "findingIds": [
                finding_id
                for task in outcome.mitigation_tasks
                if isinstance(task.target, FindingIdsTarget)
                for finding_id in task.target.finding_ids
            ],
            "skipped": outcome.skipped,
        },
    )


def _record_pause(
    services: Services,
    message: AuditCompletionNotification | FindingNotification,
    rules: RuleSet,
    paused: KillSwitchPulledError,
) -> None:
    """The decision log's entry for a start the kill switch stopped; the event itself stays with
    Lambda (retries, then the on-failure queue) until it is delivered again."""
    finding_id = message.finding_id if isinstance(message, FindingNotification) else None
    key = f"{rules.version}#FINDING#{finding_id}#PAUSED" if finding_id else f"{rules.version}#PAUSED"
    record: dict[str, Any] = {"decision": "paused", "reason": str(paused)}
    if finding_id:
        record["findingId"] = finding_id
    services.history.record_decision(message.task_id, key, record)
    _count("DecisionPaused")
    logger.warning(
        "kill switch: nothing started; the notification fails so Lambda keeps it",
        extra={"decision": "paused", "reason": str(paused), "rulesVersion": rules.version},
    )


def handle_event(event: Any, services: Services) -> Outcome:
    """Handle one SNS delivery. Rejections are quarantined and returned; AWS errors propagate (retry)."""
    _count("Notifications")
    message_id: str | None = None
    try:
        record = envelope(event, services.settings)
        message_id = record.Sns.MessageId
        logger.append_keys(snsMessageId=message_id)
        message = parse_message(str(record.Sns.Message))
        check_origin(message, services.settings)
    except RejectedMessageError as rejection:
        outcome = _reject(services, event, rejection, message_id)
        _count("DecisionRejected")
        return outcome
    logger.set_correlation_id(message.task_id)
    logger.append_keys(auditTaskId=message.task_id, kind=message.kind)
    try:
        rules = services.rules()
    except RulesError:
        logger.exception("rules table unusable: nothing is remediated")
        _count("RulesInvalid")
        raise
    try:
        if isinstance(message, AuditCompletionNotification):
            outcome = _handle_audit(services, message, rules)
        else:
            outcome = _handle_finding(services, message, rules)
    except KillSwitchPulledError as paused:
        _record_pause(services, message, rules, paused)
        raise
    _count("Decision" + "".join(part.capitalize() for part in outcome.decision.split("-")))
    _log_decision(outcome, services.settings)
    return outcome


def decide_audit(notification: AuditCompletionNotification, services: Services) -> Outcome:
    """An audit whose notification never reached the function, decided as its delivery would have
    been: the same rules, check claims, idempotency key and execution name, so it starts at most once
    whichever of the two comes first. RulesError and KillSwitchPulledError propagate to the caller,
    which holds no event for Lambda to keep: it records nothing and leaves the audit for later."""
    logger.set_correlation_id(notification.task_id)
    logger.append_keys(auditTaskId=notification.task_id, kind=notification.kind)
    try:
        rules = services.rules()
    except RulesError:
        logger.exception("rules table unusable: nothing is remediated")
        _count("RulesInvalid")
        raise
    outcome = _handle_audit(services, notification, rules)
    _count("Decision" + "".join(part.capitalize() for part in outcome.decision.split("-")))
    _log_decision(outcome, services.settings)
    return outcome


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(outcome.model_dump_json(by_alias=True))
    return document
