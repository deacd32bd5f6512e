"""In-memory stand-ins for the intake logic's collaborators, recording every call."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from audit_remediator.adapters.executions import StartedExecution
from audit_remediator.intake import Services
from audit_remediator.models.plan import Claim, FindingClaim, FindingWindowPlan
from audit_remediator.rules import RuleSet, load_rules, stack_mitigation_actions
from audit_remediator.settings import AuditEventsSettings
from tests.conftest import ACCOUNT_ID, AUDIT_EVENTS_TOPIC_ARN, REGION, ROOT, STACK_NAME


@cache
def template_mitigation_actions() -> tuple[str, ...]:
    """The logical ids of template.yaml's AWS::IoT::MitigationAction resources."""
    return tuple(stack_mitigation_actions(yaml_parse((ROOT / "template.yaml").read_text())))


def environment(**overrides: str) -> dict[str, str]:
    values = {
        "AUDIT_EVENTS_TOPIC_ARN": AUDIT_EVENTS_TOPIC_ARN,
        "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:RemediationStateMachine-x1",
        "IDEMPOTENCY_TABLE_NAME": f"{STACK_NAME}-IdempotencyTable",
        "REMEDIATION_TABLE_NAME": f"{STACK_NAME}-RemediationTable",
        "QUARANTINE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/quarantine",
        "REMEDIATION_MODE": "Enforce",
        "MITIGATION_ACTION_NAME_PREFIX": f"{STACK_NAME}-",
        "MITIGATION_ACTION_NAMES": ",".join(f"{STACK_NAME}-{name}" for name in template_mitigation_actions()),
        "FINDING_WINDOW_SECONDS": "300",
        "HISTORY_RETENTION_DAYS": "90",
    }
    values.update(overrides)
    return values


@dataclass
class FakeExecutions:
    started: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def start(self, name: str, input_json: str) -> StartedExecution:
        self.calls.append(name)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:RemediationStateMachine-x1:{name}"
        if name in self.started:
            return StartedExecution(arn, already_existed=True)
        self.started[name] = input_json
        return StartedExecution(arn, already_existed=False)


@dataclass
class FakeHistory:
    decisions: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    claims: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    inbox: dict[str, set[str]] = field(default_factory=dict)
    coverage: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def record_decision(self, audit_task_id: str, record_key: str, decision: dict[str, Any]) -> None:
        self.decisions.append((audit_task_id, record_key, decision))

    def record_coverage(
        self, audit_task_id: str, rules_version: str, checks: list[str], execution_name: str
    ) -> None:
        self.coverage[(audit_task_id, rules_version)] = set(checks)

    def claim_finding(
        self, plan: FindingWindowPlan, claim: FindingClaim, execution_name: str, execution_input: str
    ) -> Claim:
        key = (plan.audit_task_id, claim.finding_id, plan.rules_version)
        if key in self.claims:
            return Claim("earlier", *self.claims[key])
        if claim.check in self.coverage.get((plan.audit_task_id, plan.rules_version), set()):
            return Claim("covered", "", "")
        self.claims[key] = (execution_name, execution_input)
        self.inbox.setdefault(plan.window.inbox_key, set()).add(claim.finding_id)
        return Claim("new", execution_name, execution_input)


@dataclass
class FakeQuarantine:
    kept: list[tuple[Any, str]] = field(default_factory=list)

    def keep(self, event: Any, reason: str, message_id: str | None) -> None:
        self.kept.append((event, reason))


@dataclass
class FakeOnce:
    """Remembers results by key, as the idempotency store does while its record lives."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run_once(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = action()
        return self.results[key]

    def register_lambda_context(self, context: Any) -> None:
        return None


@dataclass
class Fakes:
    services: Services
    executions: FakeExecutions
    history: FakeHistory
    quarantine: FakeQuarantine
    once: FakeOnce


def make_fakes(rules: Callable[[], RuleSet] = load_rules, now: float = 1_763_608_500.0, **env: str) -> Fakes:
    executions, history, quarantine, once = FakeExecutions(), FakeHistory(), FakeQuarantine(), FakeOnce()
    services = Services(
        settings=AuditEventsSettings.from_environment(environment(**env)),
        rules=rules,
        executions=executions,
        history=history,
        quarantine=quarantine,
        once=once,
        clock=lambda: now,
    )
    return Fakes(services, executions, history, quarantine, once)
