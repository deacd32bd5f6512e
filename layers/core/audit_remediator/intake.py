"""What AuditEventsFunction does with one SNS delivery: provenance, parse, plan, start once.

Collaborators come in as parameters (Protocols), so the unit tests pass in-memory fakes and the
handler passes the AWS adapters.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsRecordModel
from pydantic import ValidationError

from audit_remediator import plain_errors
from audit_remediator.adapters.executions import StartedExecution
from audit_remediator.errors import RejectedMessageError, RulesError
from audit_remediator.models.notifications import (
    AuditCompletionNotification,
    DetectViolation,
    FindingNotification,
    InboundMessage,
)
from audit_remediator.models.plan import (
    AuditPlan,
    Claim,
    Decision,
    ExecutionRequest,
    FindingClaim,
    FindingWindowPlan,
    Outcome,
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

# SNS refuses messages over 256 KiB, so anything larger did not come through the topic.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_ERRORS_IN_REASON = 3


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


class OnceRunner(Protocol):
    """Runs `action` at most once per key (Powertools idempotency in production)."""

    def run_once(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]: ...

    def register_lambda_context(self, context: Any) -> None: ...


@dataclass
class Services:
    settings: AuditEventsSettings
    rules: Callable[[], RuleSet]
    executions: ExecutionStarter
    history: History
    quarantine: Quarantine
    once: OnceRunner
    clock: Callable[[], float] = field(default=time.time)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _describe(error: ValidationError) -> str:
    """The problems in plain words: where in the message, and what is wrong (never pydantic's tags)."""
    return plain_errors.describe(error, limit=MAX_ERRORS_IN_REASON)


def _message_error_reason(error: ValidationError) -> RejectedMessageError:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] in {"json_invalid", "string_unicode"}:
        return RejectedMessageError("malformed-json", "the message " + plain_errors.phrase(first))
    # Only the message as a whole (no field of it) being of the wrong shape makes it unrecognised.
    whole_message = len(first["loc"]) <= 1
    if whole_message and first["type"] in {"unrecognised_message", "model_type", "model_attributes_type"}:
        return RejectedMessageError("unrecognised-message", "the message " + plain_errors.phrase(first))
    tag = first["loc"][0] if first["loc"] else None
    if tag == "detect":
        return RejectedMessageError(
            "detect-violation", "Device Defender Detect alarms are not audit findings"
        )
    if tag == "audit":
        return RejectedMessageError("invalid-audit-notification", _describe(error), kind="audit")
    if tag == "finding":
        return RejectedMessageError("invalid-finding-notification", _describe(error), kind="finding")
    return RejectedMessageError("unrecognised-message", _describe(error))


def _envelope(event: Any, settings: AuditEventsSettings) -> SnsRecordModel:
    """The single SNS record, once it is shown to come from our topic (security property 4)."""
    if not isinstance(event, dict):
        raise RejectedMessageError(
            "not-an-sns-event", f"the event is {plain_errors.json_kind(event)}, not an object"
        )
    records_in = event.get("Records")
    for number, raw in enumerate(records_in if isinstance(records_in, list) else [], start=1):
        # Powertools' SNS model iterates `Sns` before validating it: null or a number raises TypeError.
        if isinstance(raw, dict) and "Sns" in raw and not isinstance(raw["Sns"], dict):
            raise RejectedMessageError(
                "not-an-sns-event",
                f"Records, item {number}, Sns: should be an object, not {plain_errors.json_kind(raw['Sns'])}",
            )
    try:
        records = parse(event=event, model=SnsModel).Records
    except ValidationError as error:
        raise RejectedMessageError("not-an-sns-event", _describe(error)) from error
    except (TypeError, AttributeError) as error:
        raise RejectedMessageError(
            "not-an-sns-event", "the event is not shaped as SNS delivers one"
        ) from error
    if len(records) != 1:
        raise RejectedMessageError(
            "not-an-sns-event", f"{len(records)} records; SNS delivers one per invocation"
        )
    record = records[0]
    if record.Sns.TopicArn != settings.audit_events_topic_arn:
        raise RejectedMessageError("foreign-topic", f"published to {record.Sns.TopicArn}")
    if not record.EventSubscriptionArn.startswith(settings.audit_events_topic_arn + ":"):
        raise RejectedMessageError("foreign-subscription", f"subscription {record.EventSubscriptionArn}")
    # surrogatepass: a forged event can carry lone surrogates, which plain UTF-8 cannot encode.
    if len(str(record.Sns.Message).encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise RejectedMessageError("message-too-large", f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    return record


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def _check_json(text: str) -> None:
    """Reject what a last-key-wins parser would read differently from a first-key-wins one."""
    try:
        json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except RecursionError as error:
        raise RejectedMessageError("malformed-json", "nested too deeply") from error
    except ValueError as error:
        raise RejectedMessageError("malformed-json", str(error)) from error


def _message(event: dict[str, Any]) -> AuditCompletionNotification | FindingNotification:
    _check_json(str(event["Records"][0]["Sns"]["Message"]))
    try:
        # An Annotated union is a valid pydantic model for Powertools' parser, but not a `type` to mypy.
        message = parse(event=event, model=InboundMessage, envelope=envelopes.SnsEnvelope)[0]  # type: ignore[call-overload]
    except ValidationError as error:
        raise _message_error_reason(error) from error
    except RecursionError as error:
        raise RejectedMessageError("malformed-json", "nested too deeply") from error
    except UnicodeError as error:
        raise RejectedMessageError("malformed-json", f"not valid Unicode text: {error}") from error
    if isinstance(message, DetectViolation):
        raise RejectedMessageError("detect-violation", "Device Defender Detect alarms are not audit findings")
    if not isinstance(message, AuditCompletionNotification | FindingNotification):
        raise RejectedMessageError("unrecognised-message", "not an audit-completion or per-finding message")
    return message


def _check_origin(
    message: AuditCompletionNotification | FindingNotification, settings: AuditEventsSettings
) -> None:
    if isinstance(message, AuditCompletionNotification):
        if message.account_id != settings.account_id:
            raise RejectedMessageError(
                "foreign-account", f"audit of account {message.account_id}", kind="audit"
            )
        return
    if message.non_compliant_resource is None:
        return
    identifier = message.non_compliant_resource.resource_identifier
    if identifier.account is not None and identifier.account != settings.account_id:
        raise RejectedMessageError(
            "foreign-account", f"finding about account {identifier.account}", kind="finding"
        )
    for arn in (identifier.device_certificate_arn, identifier.role_alias_arn):
        parts = arn.split(":") if arn else []
        if len(parts) >= 5 and parts[3] != settings.region:
            raise RejectedMessageError(
                "foreign-region", f"finding about a resource in {parts[3]}", kind="finding"
            )
        if len(parts) >= 5 and parts[4] != settings.account_id:
            raise RejectedMessageError("foreign-account", f"finding about account {parts[4]}", kind="finding")


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


@dataclass(frozen=True, slots=True)
class _Started:
    """What the once-only step did: `first` is False for a duplicate delivery."""

    first: bool
    execution_name: str
    execution_input: str = ""
    covered: bool = False


def _start_once(
    services: Services, key: str, invocation_id: str, start: Callable[[], dict[str, Any]]
) -> _Started | None:
    """Run `start` once per key; None while another invocation holds the key."""

    def action() -> dict[str, Any]:
        return {**start(), "invocationId": invocation_id}

    try:
        result = services.once.run_once(key, action)
    except IdempotencyAlreadyInProgressError:
        logger.info("another invocation is handling this notification", extra={"idempotencyKey": key})
        return None
    first = result.get("invocationId") == invocation_id and not result.get("alreadyExisted")
    return _Started(
        first,
        str(result.get("executionName", "")),
        str(result.get("executionInput", "")),
        bool(result.get("covered")),
    )


def _started(execution: StartedExecution, name: str) -> dict[str, Any]:
    return {
        "executionArn": execution.execution_arn,
        "executionName": name,
        "alreadyExisted": execution.already_existed,
    }


def _audit_reason(plan: AuditPlan, notification: AuditCompletionNotification) -> tuple[Decision, str]:
    enforce = sum(task.mode == "enforce" for task in plan.tasks)
    dry_run = len(plan.tasks) - enforce
    if notification.task_status != "COMPLETED":
        return "no-action", f"audit-incomplete: audit task {notification.task_status}"
    if plan.tasks:
        parts = [f"{enforce} enforce task(s)", f"{dry_run} dry-run task(s)"]
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


def _handle_audit(
    services: Services, notification: AuditCompletionNotification, rules: RuleSet, invocation_id: str
) -> Outcome:
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
        return Outcome(
            decision="no-action",
            kind="audit",
            reason=reason,
            rules_version=rules.version,
            execution=None,
            mitigation_tasks=[],
            skipped=plan.skipped,
        )
    request = ExecutionRequest(name=name, input=plan)
    input_json = plan.model_dump_json(by_alias=True)

    def start() -> dict[str, Any]:
        return _started(services.executions.start(request.name, input_json), request.name)

    key = f"audit#{notification.account_id}#{notification.task_id}#{rules.version}"
    started = _start_once(services, key, invocation_id, start)
    first = started is not None and started.first
    if first:
        _count("ExecutionsStarted")
        metrics.add_metric(name="MitigationTasksPlanned", unit=MetricUnit.Count, value=len(plan.tasks))
    return Outcome(
        decision=decision if first else "duplicate",
        kind="audit",
        reason=reason if first else f"duplicate: execution {request.name} already started",
        rules_version=rules.version,
        execution=request,
        mitigation_tasks=plan.tasks,
        skipped=plan.skipped,
    )


def _handle_finding(
    services: Services, notification: FindingNotification, rules: RuleSet, invocation_id: str
) -> Outcome:
    settings = services.settings
    rule, why = finding_rule(notification, rules)
    if rule is None:
        services.history.record_decision(
            notification.task_id,
            f"{rules.version}#FINDING#{notification.finding_id}",
            {"decision": "no-action", "reason": why, "findingId": notification.finding_id},
        )
        return Outcome(
            decision="no-action",
            kind="finding",
            reason=why,
            rules_version=rules.version,
            execution=None,
            mitigation_tasks=[],
            skipped={notification.check_name: why},
        )
    name, plan = plan_finding_window(
        notification, rule, rules, _plan_settings(settings), settings.account_id, services.clock()
    )
    claim = FindingClaim(
        finding_id=notification.finding_id, check=plan.check, reason_code=notification.reason_code
    )
    input_json = plan.model_dump_json(by_alias=True)

    def claim_and_start() -> dict[str, Any]:
        found = services.history.claim_finding(plan, claim, name, input_json)
        if found.status == "covered":
            return {
                "executionName": audit_execution_name(plan.audit_task_id, rules.version),
                "covered": True,
                "alreadyExisted": True,
            }
        # A re-delivery restarts the execution its first delivery recorded: that delivery may have
        # stopped between its claim and its start. Starting a name twice is harmless.
        execution = services.executions.start(found.execution_name, found.execution_input)
        # A new claim is this finding's first delivery, whether or not another finding of its window
        # started the window's execution already.
        return {
            "executionArn": execution.execution_arn,
            "executionName": found.execution_name,
            "alreadyExisted": found.status == "earlier",
            "executionInput": found.execution_input,
        }

    key = f"finding#{settings.account_id}#{notification.task_id}#{notification.finding_id}#{rules.version}"
    started = _start_once(services, key, invocation_id, claim_and_start)
    if started is None or not started.first:
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
        return Outcome(
            decision="duplicate",
            kind="finding",
            reason=why,
            rules_version=rules.version,
            execution=recorded,
            mitigation_tasks=[],
            skipped={},
        )
    return Outcome(
        decision="remediate",
        kind="finding",
        reason=f"finding queued in a {plan.window.seconds}s window (mode {plan.mode}"
        + (", RemediationMode=DryRun)" if plan.remediation_mode == "DryRun" else ")"),
        rules_version=rules.version,
        execution=ExecutionRequest(name=name, input=plan),
        mitigation_tasks=window_batches(plan, [notification.finding_id]),
        skipped={},
    )


def handle_event(event: Any, services: Services, invocation_id: str) -> Outcome:
    """Handle one SNS delivery. Rejections are quarantined and returned; AWS errors propagate (retry)."""
    _count("Notifications")
    message_id: str | None = None
    try:
        record = _envelope(event, services.settings)
        message_id = record.Sns.MessageId
        logger.append_keys(snsMessageId=message_id)
        message = _message(event)
        _check_origin(message, services.settings)
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
    if isinstance(message, AuditCompletionNotification):
        outcome = _handle_audit(services, message, rules, invocation_id)
    else:
        outcome = _handle_finding(services, message, rules, invocation_id)
    _count("Decision" + "".join(part.capitalize() for part in outcome.decision.split("-")))
    logger.info(
        "decision",
        extra={
            "decision": outcome.decision,
            "reason": outcome.reason,
            "rulesVersion": outcome.rules_version,
            "executionName": outcome.execution.name if outcome.execution else None,
            "mitigationTaskIds": [task.task_id for task in outcome.mitigation_tasks],
            "affectedResources": sum(task.affected_resources for task in outcome.mitigation_tasks),
            "skipped": outcome.skipped,
        },
    )
    return outcome


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(outcome.model_dump_json(by_alias=True))
    return document
