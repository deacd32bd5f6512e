"""The Device Defender audit and mitigation APIs that moto lacks, over moto's IoT state.

Install an emulator (`with DeviceDefenderEmulator(...):` or `install()`) inside `mock_aws` and every
boto3 IoT client answers the emulated operations from it; all other IoT operations still go to moto.
Work that takes time on AWS (audits, mitigation tasks) progresses on the emulator's clock and is
brought up to date lazily at every emulated call, or explicitly with `advance()` / `settle()`.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self

from botocore import xform_name
from botocore.utils import parse_to_aware_datetime
from moto.iot.models import IoTBackend, iot_backends
from moto.sns.models import sns_backends

from sandbox.device_defender import catalog, hooks
from sandbox.device_defender.checks import AuditContext, evaluate
from sandbox.device_defender.clock import Clock, SystemClock
from sandbox.device_defender.errors import (
    ContractViolation,
    ServiceError,
    invalid_request,
    limit_exceeded,
    not_found,
)
from sandbox.device_defender.mitigation import ActionContext, ActionFailed, apply_action
from sandbox.device_defender.state import (
    AccountAuditConfig,
    AuditTask,
    CheckConfig,
    CheckResult,
    CheckStatistics,
    Connection,
    Execution,
    Finding,
    FindingWork,
    MitigationActionDef,
    MitigationTask,
    RegionState,
    ScheduledAudit,
    Suppression,
    resource_key,
)
from sandbox.device_defender.validation import ModelValidator, iot_service_model, render_violations

OPERATIONS: Final = frozenset(
    {
        "DescribeAccountAuditConfiguration",
        "UpdateAccountAuditConfiguration",
        "DeleteAccountAuditConfiguration",
        "CreateScheduledAudit",
        "DescribeScheduledAudit",
        "ListScheduledAudits",
        "UpdateScheduledAudit",
        "DeleteScheduledAudit",
        "StartOnDemandAuditTask",
        "DescribeAuditTask",
        "ListAuditTasks",
        "CancelAuditTask",
        "ListAuditFindings",
        "DescribeAuditFinding",
        "ListRelatedResourcesForAuditFinding",
        "CreateMitigationAction",
        "DescribeMitigationAction",
        "ListMitigationActions",
        "UpdateMitigationAction",
        "DeleteMitigationAction",
        "StartAuditMitigationActionsTask",
        "DescribeAuditMitigationActionsTask",
        "ListAuditMitigationActionsTasks",
        "ListAuditMitigationActionsExecutions",
        "CancelAuditMitigationActionsTask",
        "CreateAuditSuppression",
        "DescribeAuditSuppression",
        "UpdateAuditSuppression",
        "DeleteAuditSuppression",
        "ListAuditSuppressions",
        "GetV2LoggingOptions",
        "SetV2LoggingOptions",
    }
)

DEFAULT_PAGE_SIZE: Final = 25
MAX_SCHEDULED_AUDITS: Final = 5
RELATED_RESOURCES_IN_FINDING: Final = 10
RETENTION: Final = timedelta(days=90)
TERMINAL_AUDIT_STATES: Final = frozenset({"COMPLETED", "FAILED", "CANCELED"})

Params = Mapping[str, Any]
Publisher = Callable[[str, str], None]


@dataclass(frozen=True)
class PublishedMessage:
    """An SNS message the emulator sent (audit completion or a PUBLISH_FINDING_TO_SNS action)."""

    kind: str
    topic_arn: str
    message: str
    error: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.message)
        return value


def _timestamp(value: Any) -> datetime:
    return parse_to_aware_datetime(value).astimezone(UTC)


def _present(mapping: Params) -> set[str]:
    return {k for k, v in mapping.items() if v is not None}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# Rules the service enforces across members, which the model cannot express. Each returns a
# message when the request breaks it.
def _task_xor_time_range(p: Params) -> str | None:
    members = _present(p)
    if "taskId" in members and members & {"startTime", "endTime"}:
        return "Specify either taskId or startTime and endTime, not both."
    if "taskId" not in members and not {"startTime", "endTime"} <= members:
        return "Specify either taskId or both startTime and endTime."
    return None


def _time_range_in_order(p: Params) -> str | None:
    start, end = p.get("startTime"), p.get("endTime")
    if start is not None and end is not None and _timestamp(start) > _timestamp(end):
        return "startTime must not be after endTime."
    return None


def _one_mitigation_target(p: Params) -> str | None:
    members = _present(p["target"])
    if "auditCheckToReasonCodeFilter" in members and "auditTaskId" not in members:
        return "auditCheckToReasonCodeFilter can only be used together with auditTaskId."
    if ("auditTaskId" in members) == ("findingIds" in members):
        return "The target must contain either auditTaskId or findingIds."
    return None


def _one_action_params(p: Params) -> str | None:
    params = p.get("actionParams")
    if params is not None and len(_present(params)) != 1:
        return "actionParams must contain exactly one kind of action parameters."
    return None


def _one_resource_identifier(p: Params) -> str | None:
    identifier = p.get("resourceIdentifier")
    if identifier is not None and len(_present(identifier)) != 1:
        return "resourceIdentifier must identify exactly one resource."
    return None


def _schedule_days(p: Params) -> str | None:
    frequency = p.get("frequency")
    if frequency in ("WEEKLY", "BIWEEKLY") and p.get("dayOfWeek") is None:
        return f"dayOfWeek is required for frequency {frequency}."
    if frequency == "MONTHLY" and p.get("dayOfMonth") is None:
        return "dayOfMonth is required for frequency MONTHLY."
    return None


def _suppression_duration(p: Params) -> str | None:
    if p.get("suppressIndefinitely") and p.get("expirationDate") is not None:
        return "expirationDate cannot be combined with suppressIndefinitely."
    return None


REQUEST_RULES: Final[dict[str, tuple[Callable[[Params], str | None], ...]]] = {
    "ListAuditFindings": (_task_xor_time_range, _time_range_in_order, _one_resource_identifier),
    "ListAuditTasks": (_time_range_in_order,),
    "ListAuditMitigationActionsTasks": (_time_range_in_order,),
    "StartAuditMitigationActionsTask": (_one_mitigation_target,),
    "CreateMitigationAction": (_one_action_params,),
    "UpdateMitigationAction": (_one_action_params,),
    "CreateScheduledAudit": (_schedule_days,),
    "CreateAuditSuppression": (_one_resource_identifier, _suppression_duration),
    "DescribeAuditSuppression": (_one_resource_identifier,),
    "UpdateAuditSuppression": (_one_resource_identifier, _suppression_duration),
    "DeleteAuditSuppression": (_one_resource_identifier,),
    "ListAuditSuppressions": (_one_resource_identifier,),
}


@dataclass(frozen=True)
class Call:
    """One validated request, with the Region's records it applies to."""

    state: RegionState
    region: str
    params: Params


class DeviceDefenderEmulator:
    """Device Defender Audit for the sandbox.

    Timing: an audit completes `audit_seconds` after it starts and a mitigation task
    `mitigation_task_seconds` after it starts (its findings are worked through evenly over that
    time), both measured on `clock`; 0 makes them complete within the starting call.
    """

    operations: frozenset[str] = OPERATIONS

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        clock: Clock | None = None,
        audit_seconds: float = 1.0,
        mitigation_task_seconds: float = 1.0,
        max_in_progress_audits: int = 10,
        max_in_progress_mitigation_tasks: int = 10,
        seed: int | None = None,
        publisher: Publisher | None = None,
        check_responses: bool = True,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.clock: Clock = clock or SystemClock()
        self.audit_seconds = audit_seconds
        self.mitigation_task_seconds = mitigation_task_seconds
        self.max_in_progress_audits = max_in_progress_audits
        self.max_in_progress_mitigation_tasks = max_in_progress_mitigation_tasks
        self.check_responses = check_responses
        self.published: list[PublishedMessage] = []
        self._publisher = publisher
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._regions: dict[str, RegionState] = {}
        self._outbox: list[tuple[str, str, str]] = []
        self._validator = ModelValidator(iot_service_model())

    def install(self) -> Self:
        hooks.activate(self)
        return self

    def uninstall(self) -> None:
        hooks.deactivate(self)

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.uninstall()

    def record_connection(
        self,
        client_id: str,
        certificate_id: str,
        thing_name: str | None,
        connect_time: datetime,
        disconnect_time: datetime | None = None,
        *,
        region: str | None = None,
    ) -> None:
        with self._lock:
            self._state(region).connections.append(
                Connection(client_id, certificate_id, thing_name, connect_time, disconnect_time)
            )

    def connections(self, region: str | None = None) -> list[Connection]:
        with self._lock:
            return list(self._state(region).connections)

    def revoke_device_certificate(self, certificate_id: str, *, region: str | None = None) -> None:
        """Marks the certificate as revoked by its issuer (what the CA's CRL would say)."""
        with self._lock:
            self._state(region).revoked_device_certificates.add(certificate_id)

    def revoke_ca_certificate(self, certificate_id: str, *, region: str | None = None) -> None:
        with self._lock:
            self._state(region).revoked_ca_certificates.add(certificate_id)

    def advance(self, seconds: float = 0.0) -> None:
        """Moves the clock forward (it needs an `advance(seconds)` method, as ManualClock has), then
        completes whatever fell due."""
        if seconds:
            move = getattr(self.clock, "advance", None)
            if move is None:
                raise TypeError("advance(seconds) needs a clock with advance(); use settle() with real time")
            move(seconds)
        try:
            with self._lock:
                for region in list(self._regions):
                    self._progress(region)
        finally:
            self._flush()

    def settle(self) -> None:
        """Completes every audit and mitigation task in progress, as if their time had passed (an
        adjustable clock is moved to the last due time; with real time, due times are pulled in)."""
        try:
            with self._lock:
                now = self.clock.now()
                latest = max(self._pending_due_times(), default=now)
                move = getattr(self.clock, "advance", None)
                if move is not None:
                    if latest > now:
                        move((latest - now).total_seconds())
                else:
                    self._pull_due_times_to(now)
                for region in list(self._regions):
                    self._progress(region, max(latest, self.clock.now()))
        finally:
            self._flush()

    def record_audit(
        self, audit: AuditTask, findings: Iterable[Finding], *, region: str | None = None
    ) -> None:
        """Records an audit that already ran elsewhere, with its findings, under its own task id (a
        replayed notification names an audit this sandbox never ran). Nothing is published."""
        with self._lock:
            state = self._state(region)
            if audit.task_id in state.audits:
                raise ValueError(f"audit task {audit.task_id} already exists")
            recorded = list(findings)
            clashes = [f.finding_id for f in recorded if f.finding_id in state.findings]
            if clashes or any(f.task_id != audit.task_id for f in recorded):
                raise ValueError(f"findings must be new and belong to audit {audit.task_id}: {clashes}")
            state.audits[audit.task_id] = audit
            state.findings.update({f.finding_id: f for f in recorded})

    def run_scheduled_audit(self, name: str, *, region: str | None = None) -> str:
        """Starts the scheduled audit now, as the service does at its scheduled time; returns the task id."""
        try:
            with self._lock:
                region = region or self.region
                state = self._state(region)
                scheduled = state.scheduled_audits.get(name)
                if scheduled is None:
                    raise not_found(f"Scheduled audit {name} does not exist.")
                previous = scheduled.last_run
                task = self._start_audit(
                    state, "SCHEDULED_AUDIT_TASK", scheduled.target_checks, scheduled.name, previous
                )
                scheduled.last_run = task.start
                self._progress(region)
                return task.task_id
        finally:
            self._flush()

    def handle(self, operation_name: str, params: Params, region: str | None) -> dict[str, Any]:
        try:
            with self._lock:
                region = region or self.region
                violations = self._validator.request_violations(operation_name, params)
                if violations:
                    raise invalid_request(render_violations(violations))
                for rule in REQUEST_RULES.get(operation_name, ()):
                    message = rule(params)
                    if message is not None:
                        raise invalid_request(message)
                self._progress(region)
                handler = getattr(self, "_" + xform_name(operation_name))
                result: dict[str, Any] = handler(Call(self._state(region), region, params))
                self._progress(region)
                if self.check_responses:
                    problems = self._validator.response_violations(operation_name, result)
                    if problems:
                        raise ContractViolation(f"{operation_name}: {render_violations(problems)}")
                return result
        finally:
            self._flush()

    def _state(self, region: str | None) -> RegionState:
        region = region or self.region
        state = self._regions.get(region)
        if state is None:
            state = self._regions[region] = RegionState()
        return state

    def _iot(self, region: str) -> IoTBackend:
        backend: IoTBackend = iot_backends[self.account_id][region]
        return backend

    def _new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)

    def _arn(self, region: str, resource: str) -> str:
        return f"arn:aws:iot:{region}:{self.account_id}:{resource}"

    def _page(self, operation: str, items: list[Any], p: Params, key: str) -> dict[str, Any]:
        size = p.get("maxResults") or DEFAULT_PAGE_SIZE
        offset = 0
        token = p.get("nextToken")
        if token is not None:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                offset = int(decoded["offset"])
                valid = decoded["operation"] == operation and 0 <= offset <= len(items)
            except (ValueError, KeyError, TypeError, binascii.Error):
                valid = False
            if not valid:
                raise invalid_request("The nextToken is not valid.")
        page: dict[str, Any] = {key: items[offset : offset + size]}
        if offset + size < len(items):
            raw = json.dumps({"operation": operation, "offset": offset + size}).encode()
            page["nextToken"] = base64.urlsafe_b64encode(raw).decode()
        return page

    def _flush(self) -> None:
        """Publishes queued SNS messages outside the lock: delivery may run subscribers that call back."""
        with self._lock:
            outbox, self._outbox = self._outbox, []
        for kind, topic_arn, message in outbox:
            error = None
            try:
                self._publish(topic_arn, message)
            except Exception as exc:  # Device Defender does not fail an audit over an unreachable target
                error = f"{type(exc).__name__}: {exc}"
            self.published.append(PublishedMessage(kind, topic_arn, message, error))

    def _publish(self, topic_arn: str, message: str) -> None:
        if self._publisher is not None:
            self._publisher(topic_arn, message)
            return
        # Straight into moto's SNS backend, which delivers to the topic's subscriptions: the
        # service publishes on its own side, so client-side hooks (fault injection) do not apply.
        parts = topic_arn.split(":")
        sns_backends[parts[4]][parts[3]].publish(message, arn=topic_arn)

    def _topic_exists(self, topic_arn: str) -> bool:
        parts = topic_arn.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            return False
        return topic_arn in sns_backends[parts[4]][parts[3]].topics

    def _pending_due_times(self) -> Iterable[datetime]:
        for state in self._regions.values():
            for audit in state.audits.values():
                if audit.status == "IN_PROGRESS":
                    yield audit.due
            for task in state.mitigation_tasks.values():
                if task.status == "IN_PROGRESS":
                    yield task.due
                    yield from (w.due for w in task.work if not w.done)

    def _pull_due_times_to(self, now: datetime) -> None:
        for state in self._regions.values():
            for audit in state.audits.values():
                audit.due = min(audit.due, now)
            for task in state.mitigation_tasks.values():
                task.due = min(task.due, now)
                for work in task.work:
                    work.due = min(work.due, now)

    def _progress(self, region: str, now: datetime | None = None) -> None:
        state = self._state(region)
        now = now or self.clock.now()
        events: list[tuple[datetime, int, Callable[[], None]]] = []
        for audit in state.audits.values():
            if audit.status == "IN_PROGRESS" and audit.due <= now:
                events.append((audit.due, len(events), _bind(self._complete_audit, state, region, audit)))
        for task in state.mitigation_tasks.values():
            if task.status != "IN_PROGRESS":
                continue
            for work in task.work:
                if not work.done and work.due <= now:
                    events.append((work.due, len(events), _bind(self._run_work, state, region, task, work)))
        for _, _, run in sorted(events, key=lambda e: (e[0], e[1])):
            run()
        for task in state.mitigation_tasks.values():
            if task.status == "IN_PROGRESS" and task.due <= now and all(w.done for w in task.work):
                task.status = "FAILED" if task.any_failed else "COMPLETED"
                task.end = max([task.due, *(w.due for w in task.work)])

    def _enabled_checks(self, state: RegionState, names: Iterable[str]) -> list[str]:
        checks = list(dict.fromkeys(names))
        unknown = [n for n in checks if n not in catalog.CHECKS]
        if unknown:
            raise invalid_request(f"Request contains an invalid Audit Check Name: {', '.join(unknown)}")
        disabled = [n for n in checks if not self._check_config(state.audit_config, n).enabled]
        if disabled:
            raise invalid_request(f"These checks are not enabled for the account: {', '.join(disabled)}")
        return checks

    def _start_audit(
        self,
        state: RegionState,
        task_type: str,
        checks: list[str],
        scheduled_name: str | None,
        previous_run: datetime | None,
    ) -> AuditTask:
        now = self.clock.now()
        task = AuditTask(
            task_id=self._new_id().hex,
            task_type=task_type,
            start=now,
            due=now + timedelta(seconds=self.audit_seconds),
            checks=list(checks),
            scheduled_audit_name=scheduled_name,
            previous_run=previous_run,
            results={name: CheckResult("IN_PROGRESS") for name in checks},
        )
        state.audits[task.task_id] = task
        return task

    def _suppressed(self, state: RegionState, check: str, identifier: dict[str, Any], when: datetime) -> bool:
        suppression = state.suppressions.get((check, resource_key(identifier)))
        return suppression is not None and suppression.active(when)

    def _complete_audit(self, state: RegionState, region: str, audit: AuditTask) -> None:
        when = audit.due
        context = AuditContext(
            self.account_id, self._iot(region), state, when, audit.task_type, audit.previous_run
        )
        for check in audit.checks:
            spec = catalog.CHECKS[check]
            outcome = evaluate(check, context)
            result = CheckResult("COMPLETED_COMPLIANT", total=outcome.total)
            for raw in outcome.findings:
                suppressed = self._suppressed(state, check, raw.resource_identifier, when)
                finding = Finding(
                    finding_id=str(self._new_id()),
                    task_id=audit.task_id,
                    check_name=check,
                    task_start_time=audit.start,
                    finding_time=when,
                    severity=spec.severity,
                    resource_type=raw.resource_type,
                    resource_identifier=raw.resource_identifier,
                    additional_info=raw.additional_info,
                    related_resources=raw.related_resources,
                    reason=raw.reason,
                    reason_code=raw.reason_code,
                    is_suppressed=suppressed,
                )
                state.findings[finding.finding_id] = finding
                if suppressed:
                    result.suppressed += 1
                else:
                    result.non_compliant += 1
            if result.non_compliant:
                result.status = "COMPLETED_NON_COMPLIANT"
            audit.results[check] = result
        audit.status = "COMPLETED"
        audit.end = when
        self._notify_audit(state, audit)

    def _notify_audit(self, state: RegionState, audit: AuditTask) -> None:
        target = state.audit_config.notification_targets.get("SNS")
        if not target or not target.get("enabled") or not target.get("targetArn"):
            return
        statuses = [r.status for r in audit.results.values()]
        details = [
            {
                "checkName": name,
                "checkRunStatus": result.status,
                "nonCompliantResourcesCount": result.non_compliant,
                "totalResourcesCount": result.total,
                "suppressedNonCompliantResourcesCount": result.suppressed,
            }
            for name, result in audit.results.items()
        ]
        message: dict[str, Any] = {
            "accountId": self.account_id,
            "taskId": audit.task_id,
            "taskStatus": audit.status,
            "taskType": audit.task_type,
        }
        if audit.scheduled_audit_name is not None:
            message["scheduledAuditName"] = audit.scheduled_audit_name
        message.update(
            {
                "failedChecksCount": statuses.count("FAILED"),
                "canceledChecksCount": statuses.count("CANCELED"),
                "nonCompliantChecksCount": statuses.count("COMPLETED_NON_COMPLIANT"),
                "compliantChecksCount": statuses.count("COMPLETED_COMPLIANT"),
                "totalChecksCount": len(statuses),
                "taskStartTime": _ms(audit.start),
                "auditDetails": details,
            }
        )
        self._outbox.append(("audit", target["targetArn"], json.dumps(message)))

    def _run_work(self, state: RegionState, region: str, task: MitigationTask, work: FindingWork) -> None:
        context = ActionContext(
            iot=self._iot(region),
            state=state,
            topic_exists=self._topic_exists,
            publish=lambda topic, message: self._outbox.append(("finding", topic, message)),
            now=work.due,
        )
        statistics = task.statistics[work.finding.check_name]
        executions = task.executions[work.finding.finding_id]
        failed = False
        for execution, action in zip(executions, work.actions, strict=True):
            execution.start = work.due
            execution.end = work.due
            if failed:
                execution.status = "SKIPPED"
                continue
            try:
                apply_action(action, work.finding, context)
            except ActionFailed as error:
                failed = True
                execution.status = "FAILED"
                execution.error_code = error.code
                execution.message = error.message[:2048]
            else:
                execution.status = "COMPLETED"
        if failed:
            statistics.failed += 1
            task.any_failed = True
        else:
            statistics.succeeded += 1
        work.done = True

    @staticmethod
    def _check_config(config: AccountAuditConfig, name: str) -> CheckConfig:
        existing = config.checks.get(name)
        if existing is not None:
            return existing
        return CheckConfig(False, dict(catalog.DEFAULT_CHECK_CONFIGURATION.get(name, {})))

    def _describe_account_audit_configuration(self, call: Call) -> dict[str, Any]:
        state = call.state
        config = state.audit_config
        checks: dict[str, Any] = {}
        for name in catalog.CHECKS:
            check = self._check_config(config, name)
            entry: dict[str, Any] = {"enabled": check.enabled}
            if check.configuration:
                entry["configuration"] = dict(check.configuration)
            checks[name] = entry
        result: dict[str, Any] = {
            "auditNotificationTargetConfigurations": {
                k: dict(v) for k, v in config.notification_targets.items()
            },
            "auditCheckConfigurations": checks,
        }
        if config.role_arn is not None:
            result["roleArn"] = config.role_arn
        return result

    def _update_account_audit_configuration(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        config = state.audit_config
        requested: dict[str, Any] = p.get("auditCheckConfigurations") or {}
        unknown = [name for name in requested if name not in catalog.CHECKS]
        if unknown:
            raise invalid_request(f"Request contains an invalid Audit Check Name: {', '.join(unknown)}")
        for name, check in requested.items():
            for key, value in (check.get("configuration") or {}).items():
                if key not in catalog.ACCEPTED_CONFIGURATION.get(name, frozenset()):
                    raise invalid_request(f"Configuration {key} is not supported for check {name}.")
                low, high = catalog.THRESHOLD_DAYS_RANGE
                if not value.isdigit() or not low <= int(value) <= high:
                    raise invalid_request(f"{key} must be a whole number of days from {low} to {high}.")
        if not config.configured:
            if p.get("roleArn") is None:
                raise invalid_request("roleArn is required when the audit configuration is first set.")
            if not any(c.get("enabled") for c in requested.values()):
                raise invalid_request("At least one audit check must be enabled.")
        in_use = {n for s in state.scheduled_audits.values() for n in s.target_checks}
        blocked = [n for n, c in requested.items() if c.get("enabled") is False and n in in_use]
        if blocked:
            raise invalid_request(
                f"Checks used by a scheduled audit cannot be disabled: {', '.join(blocked)}"
            )
        targets: dict[str, Any] = p.get("auditNotificationTargetConfigurations") or {}
        for kind, target in targets.items():
            if target.get("enabled") and not target.get("targetArn"):
                raise invalid_request(f"targetArn is required to enable the {kind} notification target.")
        config.configured = True
        if p.get("roleArn") is not None:
            config.role_arn = p["roleArn"]
        for kind, target in targets.items():
            config.notification_targets[kind] = {k: v for k, v in target.items() if v is not None}
        for name, check in requested.items():
            current = self._check_config(config, name)
            enabled = check.get("enabled")
            configuration = {**current.configuration, **(check.get("configuration") or {})}
            config.checks[name] = CheckConfig(current.enabled if enabled is None else enabled, configuration)
        return {}

    def _delete_account_audit_configuration(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        if not state.audit_config.configured:
            raise not_found("The account audit configuration does not exist.")
        if state.scheduled_audits and not p.get("deleteScheduledAudits"):
            raise invalid_request("Scheduled audits exist; set deleteScheduledAudits to delete them as well.")
        state.scheduled_audits.clear()
        state.audit_config = AccountAuditConfig()
        return {}

    def _create_scheduled_audit(self, call: Call) -> dict[str, Any]:
        state, region, p = call.state, call.region, call.params
        name = p["scheduledAuditName"]
        if name in state.scheduled_audits:
            raise ServiceError("ResourceAlreadyExistsException", f"Scheduled audit {name} already exists.")
        if len(state.scheduled_audits) >= MAX_SCHEDULED_AUDITS:
            raise limit_exceeded(f"An account can have at most {MAX_SCHEDULED_AUDITS} scheduled audits.")
        checks = self._enabled_checks(state, p["targetCheckNames"])
        scheduled = ScheduledAudit(
            name=name,
            arn=self._arn(region, f"scheduledaudit/{name}"),
            frequency=p["frequency"],
            day_of_month=p.get("dayOfMonth"),
            day_of_week=p.get("dayOfWeek"),
            target_checks=checks,
            tags=list(p.get("tags") or []),
        )
        state.scheduled_audits[name] = scheduled
        return {"scheduledAuditArn": scheduled.arn}

    def _scheduled(self, state: RegionState, name: str) -> ScheduledAudit:
        scheduled = state.scheduled_audits.get(name)
        if scheduled is None:
            raise not_found(f"Scheduled audit {name} does not exist.")
        return scheduled

    @staticmethod
    def _scheduled_to_api(scheduled: ScheduledAudit, *, full: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "scheduledAuditName": scheduled.name,
            "scheduledAuditArn": scheduled.arn,
            "frequency": scheduled.frequency,
        }
        if scheduled.day_of_month is not None:
            item["dayOfMonth"] = scheduled.day_of_month
        if scheduled.day_of_week is not None:
            item["dayOfWeek"] = scheduled.day_of_week
        if full:
            item["targetCheckNames"] = list(scheduled.target_checks)
        return item

    def _describe_scheduled_audit(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        return self._scheduled_to_api(self._scheduled(state, p["scheduledAuditName"]), full=True)

    def _list_scheduled_audits(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        items = [self._scheduled_to_api(s, full=False) for s in state.scheduled_audits.values()]
        return self._page("ListScheduledAudits", items, p, "scheduledAudits")

    def _update_scheduled_audit(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        scheduled = self._scheduled(state, p["scheduledAuditName"])
        merged: dict[str, Any] = {
            "frequency": p.get("frequency") or scheduled.frequency,
            "dayOfWeek": p.get("dayOfWeek") or scheduled.day_of_week,
            "dayOfMonth": p.get("dayOfMonth") or scheduled.day_of_month,
        }
        message = _schedule_days(merged)
        if message is not None:
            raise invalid_request(message)
        checks = scheduled.target_checks
        if p.get("targetCheckNames") is not None:
            checks = self._enabled_checks(state, p["targetCheckNames"])
        scheduled.frequency = merged["frequency"]
        scheduled.day_of_week = merged["dayOfWeek"]
        scheduled.day_of_month = merged["dayOfMonth"]
        scheduled.target_checks = checks
        return {"scheduledAuditArn": scheduled.arn}

    def _delete_scheduled_audit(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        del state.scheduled_audits[self._scheduled(state, p["scheduledAuditName"]).name]
        return {}

    def _start_on_demand_audit_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        checks = self._enabled_checks(state, p["targetCheckNames"])
        running = sum(
            1
            for a in state.audits.values()
            if a.task_type == "ON_DEMAND_AUDIT_TASK" and a.status == "IN_PROGRESS"
        )
        if running >= self.max_in_progress_audits:
            raise limit_exceeded(
                f"At most {self.max_in_progress_audits} on-demand audits can be in progress."
            )
        return {"taskId": self._start_audit(state, "ON_DEMAND_AUDIT_TASK", checks, None, None).task_id}

    def _audit(self, state: RegionState, task_id: str) -> AuditTask:
        audit = state.audits.get(task_id)
        if audit is None:
            raise not_found(f"Audit task {task_id} does not exist.")
        return audit

    def _describe_audit_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        audit = self._audit(state, p["taskId"])
        statuses = [r.status for r in audit.results.values()]
        details: dict[str, Any] = {}
        for name, result in audit.results.items():
            entry: dict[str, Any] = {"checkRunStatus": result.status}
            if result.status.startswith("COMPLETED"):
                entry.update(
                    {
                        "checkCompliant": result.status == "COMPLETED_COMPLIANT",
                        "totalResourcesCount": result.total,
                        "nonCompliantResourcesCount": result.non_compliant,
                        "suppressedNonCompliantResourcesCount": result.suppressed,
                    }
                )
            if result.error_code is not None:
                entry["errorCode"] = result.error_code
            if result.message is not None:
                entry["message"] = result.message
            details[name] = entry
        response: dict[str, Any] = {
            "taskStatus": audit.status,
            "taskType": audit.task_type,
            "taskStartTime": audit.start,
            "taskStatistics": {
                "totalChecks": len(statuses),
                "inProgressChecks": statuses.count("IN_PROGRESS"),
                "waitingForDataCollectionChecks": statuses.count("WAITING_FOR_DATA_COLLECTION"),
                "compliantChecks": statuses.count("COMPLETED_COMPLIANT"),
                "nonCompliantChecks": statuses.count("COMPLETED_NON_COMPLIANT"),
                "failedChecks": statuses.count("FAILED"),
                "canceledChecks": statuses.count("CANCELED"),
            },
            "auditDetails": details,
        }
        if audit.scheduled_audit_name is not None:
            response["scheduledAuditName"] = audit.scheduled_audit_name
        return response

    def _list_audit_tasks(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        start, end = _timestamp(p["startTime"]), _timestamp(p["endTime"])
        if start < self.clock.now() - RETENTION:
            raise invalid_request("startTime is before the audit task retention period of 90 days.")
        items = [
            {"taskId": a.task_id, "taskStatus": a.status, "taskType": a.task_type}
            for a in state.audits.values()
            if start <= a.start <= end
            and p.get("taskType") in (None, a.task_type)
            and p.get("taskStatus") in (None, a.status)
        ]
        return self._page("ListAuditTasks", items, p, "tasks")

    def _cancel_audit_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        audit = self._audit(state, p["taskId"])
        if audit.status != "IN_PROGRESS":
            raise invalid_request(f"Audit task {audit.task_id} is not in progress.")
        audit.status = "CANCELED"
        audit.end = self.clock.now()
        for result in audit.results.values():
            result.status = "CANCELED"
        self._notify_audit(state, audit)
        return {}

    def _list_audit_findings(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        findings: Iterable[Finding] = state.findings.values()
        if p.get("taskId") is not None:
            findings = (f for f in findings if f.task_id == p["taskId"])
        else:
            start, end = _timestamp(p["startTime"]), _timestamp(p["endTime"])
            findings = (f for f in findings if start <= f.finding_time <= end)
        if p.get("checkName") is not None:
            findings = (f for f in findings if f.check_name == p["checkName"])
        if p.get("resourceIdentifier") is not None:
            key = resource_key(p["resourceIdentifier"])
            findings = (f for f in findings if resource_key(f.resource_identifier) == key)
        if p.get("listSuppressedFindings") is not None:
            findings = (f for f in findings if f.is_suppressed == p["listSuppressedFindings"])
        items = [f.to_api(RELATED_RESOURCES_IN_FINDING) for f in findings]
        return self._page("ListAuditFindings", items, p, "findings")

    def _finding(self, state: RegionState, finding_id: str) -> Finding:
        finding = state.findings.get(finding_id)
        if finding is None:
            raise not_found(f"Finding {finding_id} does not exist.")
        return finding

    def _describe_audit_finding(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        return {"finding": self._finding(state, p["findingId"]).to_api(RELATED_RESOURCES_IN_FINDING)}

    def _list_related_resources_for_audit_finding(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        finding = self._finding(state, p["findingId"])
        return self._page(
            "ListRelatedResourcesForAuditFinding", list(finding.related_resources), p, "relatedResources"
        )

    def _action(self, state: RegionState, name: str) -> MitigationActionDef:
        action = state.actions.get(name)
        if action is None:
            raise not_found(f"Mitigation action {name} does not exist.")
        return action

    @staticmethod
    def _action_type(params: Params) -> str:
        (member,) = _present(params)
        return catalog.ACTION_TYPE_BY_PARAMS[member]

    def _create_mitigation_action(self, call: Call) -> dict[str, Any]:
        state, region, p = call.state, call.region, call.params
        name = p["actionName"]
        if name in state.actions:
            raise ServiceError("ResourceAlreadyExistsException", f"Mitigation action {name} already exists.")
        now = self.clock.now()
        params = {k: v for k, v in p["actionParams"].items() if v is not None}
        action = MitigationActionDef(
            name=name,
            action_id=str(self._new_id()),
            arn=self._arn(region, f"mitigationaction/{name}"),
            role_arn=p["roleArn"],
            params=params,
            action_type=self._action_type(params),
            created=now,
            modified=now,
            tags=list(p.get("tags") or []),
        )
        state.actions[name] = action
        return {"actionArn": action.arn, "actionId": action.action_id}

    def _describe_mitigation_action(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        action = self._action(state, p["actionName"])
        return {
            "actionName": action.name,
            "actionType": action.action_type,
            "actionArn": action.arn,
            "actionId": action.action_id,
            "roleArn": action.role_arn,
            "actionParams": action.params,
            "creationDate": action.created,
            "lastModifiedDate": action.modified,
        }

    def _list_mitigation_actions(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        items = [
            {"actionName": a.name, "actionArn": a.arn, "creationDate": a.created}
            for a in state.actions.values()
            if p.get("actionType") in (None, a.action_type)
        ]
        return self._page("ListMitigationActions", items, p, "actionIdentifiers")

    def _update_mitigation_action(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        action = self._action(state, p["actionName"])
        if p.get("roleArn") is not None:
            action.role_arn = p["roleArn"]
        if p.get("actionParams") is not None:
            action.params = {k: v for k, v in p["actionParams"].items() if v is not None}
            action.action_type = self._action_type(action.params)
        action.modified = self.clock.now()
        return {"actionArn": action.arn, "actionId": action.action_id}

    def _delete_mitigation_action(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        state.actions.pop(p["actionName"], None)
        return {}

    def _targeted_findings(self, state: RegionState, target: Params) -> list[Finding]:
        if target.get("auditTaskId") is not None:
            audit = state.audits.get(target["auditTaskId"])
            if audit is None:
                raise invalid_request(f"Audit task {target['auditTaskId']} does not exist.")
            if audit.status != "COMPLETED":
                raise invalid_request(
                    f"Audit task {audit.task_id} has not completed (status {audit.status})."
                )
            return [f for f in state.findings.values() if f.task_id == audit.task_id]
        findings = []
        for finding_id in dict.fromkeys(target["findingIds"]):
            finding = state.findings.get(finding_id)
            if finding is None:
                raise invalid_request(f"Finding {finding_id} does not exist.")
            findings.append(finding)
        return findings

    def _mapped_actions(self, state: RegionState, mapping: Params) -> dict[str, list[MitigationActionDef]]:
        resolved: dict[str, list[MitigationActionDef]] = {}
        for check, names in mapping.items():
            spec = catalog.CHECKS.get(check)
            if spec is None:
                raise invalid_request(f"Request contains an invalid Audit Check Name: {check}")
            actions = []
            for name in names:
                action = state.actions.get(name)
                if action is None:
                    raise invalid_request(f"Mitigation action {name} does not exist.")
                if action.action_type not in spec.actions:
                    raise invalid_request(
                        f"Mitigation action {name} ({action.action_type}) cannot be used for {check}."
                    )
                actions.append(action)
            resolved[check] = actions
        return resolved

    def _start_audit_mitigation_actions_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        task_id, token = p["taskId"], p["clientRequestToken"]
        existing = state.mitigation_tasks.get(task_id)
        if existing is not None:
            if existing.client_request_token == token:
                return {"taskId": task_id}
            raise ServiceError("TaskAlreadyExistsException", f"Task {task_id} already exists.")
        if any(t.client_request_token == token for t in state.mitigation_tasks.values()):
            raise invalid_request("The clientRequestToken was already used for another task.")
        running = sum(1 for t in state.mitigation_tasks.values() if t.status == "IN_PROGRESS")
        if running >= self.max_in_progress_mitigation_tasks:
            raise limit_exceeded(
                f"At most {self.max_in_progress_mitigation_tasks} audit mitigation actions tasks can be in progress."
            )
        target = {k: v for k, v in p["target"].items() if v is not None}
        mapping = {k: list(v) for k, v in p["auditCheckToActionsMapping"].items()}
        actions_by_check = self._mapped_actions(state, mapping)
        findings = self._targeted_findings(state, target)
        reason_filter: dict[str, list[str]] | None = target.get("auditCheckToReasonCodeFilter")
        now = self.clock.now()
        statistics = {check: CheckStatistics() for check in mapping}
        selected: list[tuple[Finding, list[MitigationActionDef]]] = []
        for finding in findings:
            if finding.check_name not in mapping:
                continue
            statistics[finding.check_name].total += 1
            filtered_out = reason_filter is not None and finding.reason_code not in reason_filter.get(
                finding.check_name, []
            )
            if filtered_out or finding.is_suppressed:
                statistics[finding.check_name].skipped += 1
                continue
            selected.append((finding, actions_by_check[finding.check_name]))
        duration = timedelta(seconds=self.mitigation_task_seconds)
        work = [
            FindingWork(finding, actions, now + duration * (index + 1) / len(selected))
            for index, (finding, actions) in enumerate(selected)
        ]
        task = MitigationTask(
            task_id=task_id,
            client_request_token=token,
            target=target,
            mapping=mapping,
            actions=list({a.name: a for actions in actions_by_check.values() for a in actions}.values()),
            start=now,
            due=now + duration,
            statistics=statistics,
            work=work,
            executions={
                w.finding.finding_id: [
                    Execution(task_id, w.finding.finding_id, a.name, a.action_id) for a in w.actions
                ]
                for w in work
            },
            targeted_finding_ids={f.finding_id for f in findings},
        )
        state.mitigation_tasks[task_id] = task
        return {"taskId": task_id}

    def _mitigation_task(self, state: RegionState, task_id: str) -> MitigationTask:
        task = state.mitigation_tasks.get(task_id)
        if task is None:
            raise not_found(f"Audit mitigation actions task {task_id} does not exist.")
        return task

    def _describe_audit_mitigation_actions_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        task = self._mitigation_task(state, p["taskId"])
        response: dict[str, Any] = {
            "taskStatus": task.status,
            "startTime": task.start,
            "taskStatistics": {check: s.to_api() for check, s in task.statistics.items()},
            "target": task.target,
            "auditCheckToActionsMapping": task.mapping,
            "actionsDefinition": [a.definition() for a in task.actions],
        }
        if task.end is not None:
            response["endTime"] = task.end
        return response

    def _list_audit_mitigation_actions_tasks(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        start, end = _timestamp(p["startTime"]), _timestamp(p["endTime"])
        items = []
        for task in state.mitigation_tasks.values():
            if not start <= task.start <= end or p.get("taskStatus") not in (None, task.status):
                continue
            if p.get("auditTaskId") is not None and not self._task_covers_audit(
                state, task, p["auditTaskId"]
            ):
                continue
            if p.get("findingId") is not None and p["findingId"] not in task.targeted_finding_ids:
                continue
            items.append({"taskId": task.task_id, "startTime": task.start, "taskStatus": task.status})
        return self._page("ListAuditMitigationActionsTasks", items, p, "tasks")

    @staticmethod
    def _task_covers_audit(state: RegionState, task: MitigationTask, audit_task_id: str) -> bool:
        if task.target.get("auditTaskId") == audit_task_id:
            return True
        return any(
            state.findings[f].task_id == audit_task_id
            for f in task.targeted_finding_ids
            if f in state.findings
        )

    def _list_audit_mitigation_actions_executions(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        task = state.mitigation_tasks.get(p["taskId"])
        executions = task.executions.get(p["findingId"], []) if task is not None else []
        items = [e.to_api() for e in executions if p.get("actionStatus") in (None, e.status)]
        return self._page("ListAuditMitigationActionsExecutions", items, p, "actionsExecutions")

    def _cancel_audit_mitigation_actions_task(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        task = self._mitigation_task(state, p["taskId"])
        if task.status != "IN_PROGRESS":
            raise invalid_request(f"Task {task.task_id} is not in progress (status {task.status}).")
        now = self.clock.now()
        for work in task.work:
            if work.done:
                continue
            work.done = True
            task.statistics[work.finding.check_name].canceled += 1
            for execution in task.executions[work.finding.finding_id]:
                execution.status = "CANCELED"
                execution.end = now
        task.status = "CANCELED"
        task.end = now
        return {}

    def _suppression_key(self, p: Params) -> tuple[str, str]:
        if p["checkName"] not in catalog.CHECKS:
            raise invalid_request(f"Request contains an invalid Audit Check Name: {p['checkName']}")
        return p["checkName"], resource_key(dict(p["resourceIdentifier"]))

    def _suppression(self, state: RegionState, p: Params) -> Suppression:
        suppression = state.suppressions.get(self._suppression_key(p))
        if suppression is None:
            raise not_found("The audit suppression does not exist.")
        return suppression

    def _expiration(self, p: Params) -> datetime | None:
        if p.get("expirationDate") is None:
            return None
        expiration = _timestamp(p["expirationDate"])
        if expiration <= self.clock.now():
            raise invalid_request("expirationDate must be in the future.")
        return expiration

    def _create_audit_suppression(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        key = self._suppression_key(p)
        existing = state.suppressions.get(key)
        if existing is not None:
            if existing.client_request_token == p["clientRequestToken"]:
                return {}
            raise ServiceError("ResourceAlreadyExistsException", "The audit suppression already exists.")
        state.suppressions[key] = Suppression(
            check_name=p["checkName"],
            resource_identifier=dict(p["resourceIdentifier"]),
            expiration=self._expiration(p),
            indefinitely=bool(p.get("suppressIndefinitely")),
            description=p.get("description"),
            client_request_token=p["clientRequestToken"],
        )
        return {}

    def _describe_audit_suppression(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        return self._suppression(state, p).to_api()

    def _update_audit_suppression(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        suppression = self._suppression(state, p)
        if p.get("expirationDate") is not None:
            suppression.expiration = self._expiration(p)
            suppression.indefinitely = False
        if p.get("suppressIndefinitely") is not None:
            suppression.indefinitely = p["suppressIndefinitely"]
            if suppression.indefinitely:
                suppression.expiration = None
        if p.get("description") is not None:
            suppression.description = p["description"]
        return {}

    def _delete_audit_suppression(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        state.suppressions.pop(self._suppression_key(p), None)
        return {}

    def _list_audit_suppressions(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        suppressions = [
            s
            for s in state.suppressions.values()
            if p.get("checkName") in (None, s.check_name)
            and (
                p.get("resourceIdentifier") is None
                or resource_key(dict(p["resourceIdentifier"])) == resource_key(s.resource_identifier)
            )
        ]
        latest = datetime.max.replace(tzinfo=UTC)
        suppressions.sort(key=lambda s: s.expiration or latest, reverse=p.get("ascendingOrder") is False)
        return self._page("ListAuditSuppressions", [s.to_api() for s in suppressions], p, "suppressions")

    def _get_v2_logging_options(self, call: Call) -> dict[str, Any]:
        state = call.state
        if state.v2_logging is None:
            raise ServiceError(
                "NotConfiguredException", "Logging options are not configured for this account."
            )
        return dict(state.v2_logging)

    def _set_v2_logging_options(self, call: Call) -> dict[str, Any]:
        state, p = call.state, call.params
        state.v2_logging = {k: v for k, v in p.items() if v is not None}
        return {}


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: function(*args)
