"""In-memory stand-ins for the intake logic's collaborators, recording every call."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
from samtranslator.yaml_helper import yaml_parse

from audit_remediator.adapters.executions import StartedExecution
from audit_remediator.adapters.history import RemediationHistory
from audit_remediator.intake import History, Services
from audit_remediator.models.plan import Claim, FindingClaim, FindingWindowPlan
from audit_remediator.rules import RuleSet, load_rules
from audit_remediator.settings import AuditEventsSettings
from tests.conftest import ACCOUNT_ID, AUDIT_EVENTS_TOPIC_ARN, REGION, ROOT, STACK_NAME
from tools.stack_rules import stack_mitigation_actions


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
    """Records every StartExecution call; the tests decide what a repeated name means."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def start(self, name: str, input_json: str) -> StartedExecution:
        earlier = [known for known, _ in self.calls]
        self.calls.append((name, input_json))
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:RemediationStateMachine-x1:{name}"
        return StartedExecution(arn, already_existed=name in earlier)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@dataclass
class FakeHistory:
    decisions: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    claims: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    inbox: dict[str, set[str]] = field(default_factory=dict)
    owners: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def record_decision(self, audit_task_id: str, record_key: str, decision: dict[str, Any]) -> None:
        self.decisions.append((audit_task_id, record_key, decision))

    def claim_checks(
        self, audit_task_id: str, rules_version: str, checks: list[str], execution_name: str
    ) -> dict[str, str]:
        """A stand-in for tests about something else; the ownership rules are tested against moto."""
        for check in checks:
            self.owners.setdefault((audit_task_id, rules_version, check), execution_name)
        return {
            check: owner
            for check in checks
            if (owner := self.owners[(audit_task_id, rules_version, check)]) != execution_name
        }

    def claim_finding(
        self, plan: FindingWindowPlan, claim: FindingClaim, execution_name: str, execution_input: str
    ) -> Claim:
        key = (plan.audit_task_id, claim.finding_id, plan.rules_version)
        if key in self.claims:
            return Claim("earlier", *self.claims[key])
        owner = self.owners.setdefault((plan.audit_task_id, plan.rules_version, claim.check), "findings")
        if owner != "findings":
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


class RemediationTable:
    """RemediationTable in moto's DynamoDB (inside `mock_aws`), behind the real adapter: DynamoDB's
    conditions and transactions decide, not the test's stand-in."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.name = environment()["REMEDIATION_TABLE_NAME"]
        self.client.create_table(
            TableName=self.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        self.history = RemediationHistory(self.client, self.name, retention_days=90)

    def items(self) -> list[dict[str, str]]:
        pages = self.client.get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True)
        return [
            {key: str(next(iter(value.values()))) for key, value in item.items()}
            for page in pages
            for item in page["Items"]
        ]

    def inbox(self) -> dict[str, set[str]]:
        boxes: dict[str, set[str]] = {}
        for item in self.items():
            if item["pk"].startswith("INBOX#"):
                boxes.setdefault(item["pk"], set()).add(item["findingId"])
        return boxes

    def owners(self) -> dict[str, str]:
        return {
            item["sk"].rsplit("#", 1)[1]: item["ownedBy"]
            for item in self.items()
            if item["sk"].startswith("OWNER#")
        }


def make_fakes(
    rules: Callable[[], RuleSet] = load_rules,
    now: float = 1_763_608_500.0,
    history: History | None = None,
    **env: str,
) -> Fakes:
    executions, quarantine, once = FakeExecutions(), FakeQuarantine(), FakeOnce()
    fake_history = FakeHistory()
    services = Services(
        settings=AuditEventsSettings.from_environment(environment(**env)),
        rules=rules,
        executions=executions,
        history=history or fake_history,
        quarantine=quarantine,
        once=once,
        clock=lambda: now,
    )
    return Fakes(services, executions, fake_history, quarantine, once)
