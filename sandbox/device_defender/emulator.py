"""The Device Defender audit and mitigation APIs that moto lacks, over moto's IoT state.

Install an emulator (`with DeviceDefenderEmulator(...):` or `install()`) inside `mock_aws` and every
boto3 IoT client answers the emulated operations from it; all other IoT operations still go to moto.
Work that takes time on AWS (audits, mitigation tasks) progresses on the emulator's clock and is
brought up to date lazily at every emulated call, or explicitly with `advance()` / `settle()`.
Each API area's operations are handled in a module of their own; `HANDLERS` names them all.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

from moto.iot.models import IoTBackend, iot_backends
from moto.sns.models import sns_backends

from sandbox.device_defender import actions, audit_config, audits, hooks, logging_options, suppressions, tasks
from sandbox.device_defender.action_permissions import RoleAuthority
from sandbox.device_defender.clock import Clock, SystemClock
from sandbox.device_defender.errors import ContractViolation, invalid_request, not_found
from sandbox.device_defender.logging_reading import RoleOmitted
from sandbox.device_defender.request_rules import broken_rule
from sandbox.device_defender.seeding import SeededAudit, completed_audit, non_compliant, seeded_finding
from sandbox.device_defender.service import Call, Handler, Params, Service
from sandbox.device_defender.state import AuditTask, Connection, Finding, MitigationTask, RegionState
from sandbox.device_defender.validation import ModelValidator, iot_service_model, render_violations

HANDLERS: Final[dict[str, Handler]] = {
    **audit_config.HANDLERS,
    **audits.HANDLERS,
    **actions.HANDLERS,
    **tasks.HANDLERS,
    **suppressions.HANDLERS,
    **logging_options.HANDLERS,
}
OPERATIONS: Final = frozenset(HANDLERS)

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
        max_in_progress_mitigation_tasks: int = tasks.MAX_IN_PROGRESS_MITIGATION_TASKS,
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
        # IAM for the roles IoT assumes; the sandbox sets it (the emulator alone checks nothing).
        self.authority: RoleAuthority | None = None
        # Action types reported COMPLETED without effect (fault injection; see Service).
        self.ineffective_action_types: set[str] = set()
        # The reading of SetV2LoggingOptions without a role the sandbox plays (see logging_options).
        self.logging_role_omitted = RoleOmitted.REPLACES
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

    def seed_audit(
        self,
        findings: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        reason_codes: Mapping[str, str] | None = None,
        additional_info: Mapping[str, str] | None = None,
        reason: str = "Seeded into the sandbox.",
        region: str | None = None,
    ) -> SeededAudit:
        """Records a COMPLETED on-demand audit with one finding per resource identifier (check ->
        identifiers) without running its checks, so large fleets need no IoT resources. Each check's
        reason code is its first unless `reason_codes` names another. Nothing is published."""
        with self._lock:
            now = self.clock.now()
            audit = completed_audit(self._new_id().hex, now, list(findings))
            seeded = SeededAudit(audit.task_id)
            recorded: list[Finding] = []
            for check, identifiers in findings.items():
                batch = [
                    seeded_finding(
                        audit,
                        check,
                        str(self._new_id()),
                        identifier,
                        reason_code=(reason_codes or {}).get(check),
                        reason=reason,
                        when=now,
                        additional_info=additional_info,
                    )
                    for identifier in identifiers
                ]
                audit.results[check] = non_compliant(len(batch))
                seeded.finding_ids[check] = [f.finding_id for f in batch]
                recorded += batch
            self.record_audit(audit, recorded, region=region)
            return seeded

    def audit(self, task_id: str, *, region: str | None = None) -> AuditTask:
        """The audit task's record (KeyError for an audit the emulator does not hold)."""
        with self._lock:
            return self._state(region).audits[task_id]

    def audit_notification(self, task_id: str, *, region: str | None = None) -> dict[str, Any]:
        """The audit-completion message the service publishes for this audit (reference §5.1)."""
        with self._lock:
            return audits.audit_notification(self.account_id, self._state(region).audits[task_id])

    def finding(self, finding_id: str, *, region: str | None = None) -> Finding:
        """The finding's record (KeyError for a finding the emulator does not hold)."""
        with self._lock:
            return self._state(region).findings[finding_id]

    def audit_tasks(self, *, region: str | None = None) -> list[AuditTask]:
        """Every audit task the emulator holds, in the order they were started."""
        with self._lock:
            return list(self._state(region).audits.values())

    def audit_findings(self, task_id: str, *, region: str | None = None) -> list[Finding]:
        """The findings of one audit task, suppressed ones included."""
        with self._lock:
            return [f for f in self._state(region).findings.values() if f.task_id == task_id]

    def mitigation_tasks(self, *, region: str | None = None) -> dict[str, MitigationTask]:
        """Every audit mitigation actions task by task id, as the emulator holds it now."""
        with self._lock:
            return dict(self._state(region).mitigation_tasks)

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
                task = audits.start_audit(
                    self._service(),
                    state,
                    "SCHEDULED_AUDIT_TASK",
                    scheduled.target_checks,
                    scheduled.name,
                    previous,
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
                message = broken_rule(operation_name, params)
                if message is not None:
                    raise invalid_request(message)
                self._progress(region)
                handler = HANDLERS[operation_name]
                result = handler(Call(self._state(region), region, params, self._service()))
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

    def _service(self) -> Service:
        return Service(
            account_id=self.account_id,
            clock=self.clock,
            audit_seconds=self.audit_seconds,
            mitigation_task_seconds=self.mitigation_task_seconds,
            max_in_progress_audits=self.max_in_progress_audits,
            max_in_progress_mitigation_tasks=self.max_in_progress_mitigation_tasks,
            new_id=self._new_id,
            iot=self._iot,
            topic_exists=self._topic_exists,
            queue_message=lambda kind, topic_arn, message: self._outbox.append((kind, topic_arn, message)),
            authority=self.authority,
            ineffective_action_types=frozenset(self.ineffective_action_types),
            logging_role_omitted=self.logging_role_omitted,
        )

    def _flush(self) -> None:
        """Publishes queued SNS messages outside the lock: delivery may run subscribers that call back."""
        with self._lock:
            outbox, self._outbox = self._outbox, []
        for kind, topic_arn, message in outbox:
            if kind.endswith("-denied"):
                # IAM refused the role IoT publishes with: nothing is sent; the message and why are kept.
                lost = json.loads(message)
                self.published.append(
                    PublishedMessage(kind.removesuffix("-denied"), topic_arn, lost["message"], lost["error"])
                )
                continue
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
        service = self._service()
        events: list[tuple[datetime, int, Callable[[], None]]] = []
        for audit in state.audits.values():
            if audit.status == "IN_PROGRESS" and audit.due <= now:
                events.append(
                    (audit.due, len(events), _bind(audits.complete_audit, service, state, region, audit))
                )
        for task in state.mitigation_tasks.values():
            if task.status != "IN_PROGRESS":
                continue
            for work in task.work:
                if not work.done and work.due <= now:
                    events.append(
                        (work.due, len(events), _bind(tasks.run_work, service, state, region, task, work))
                    )
        for _, _, run in sorted(events, key=lambda e: (e[0], e[1])):
            run()
        tasks.finish_tasks(state, now)


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: function(*args)
