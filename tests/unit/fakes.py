"""In-memory stand-ins for the intake logic's collaborators, recording every call."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from samtranslator.yaml_helper import yaml_parse

from audit_remediator.adapters.history import RemediationHistory
from audit_remediator.adapters.idempotency import idempotency_config, once_per_key
from audit_remediator.intake import History, Services, StartOrder
from audit_remediator.kill_switch import SwitchReading, reading_of
from audit_remediator.models.identifiers import execution_arn
from audit_remediator.models.plan import (
    Claim,
    FindingClaim,
    FindingWindowPlan,
    OnceKey,
    Started,
    StartedExecution,
)
from audit_remediator.rules import RuleSet, load_rules
from audit_remediator.settings import AuditEventsSettings
from tests.conftest import ACCOUNT_ID, AUDIT_EVENTS_TOPIC_ARN, REGION, ROOT, STACK_NAME
from tools.stack_rules import stack_mitigation_actions


@cache
def template_mitigation_actions() -> tuple[str, ...]:
    """The logical ids of template.yaml's AWS::IoT::MitigationAction resources."""
    return tuple(stack_mitigation_actions(yaml_parse((ROOT / "template.yaml").read_text())))


STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:RemediationStateMachine-x1"


def environment(**overrides: str) -> dict[str, str]:
    values = {
        "AUDIT_EVENTS_TOPIC_ARN": AUDIT_EVENTS_TOPIC_ARN,
        "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "IDEMPOTENCY_TABLE_NAME": f"{STACK_NAME}-IdempotencyTable",
        "REMEDIATION_TABLE_NAME": f"{STACK_NAME}-RemediationTable",
        "QUARANTINE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/quarantine",
        "REMEDIATION_MODE": "Enforce",
        "MITIGATION_ACTION_NAME_PREFIX": f"{STACK_NAME}-",
        "MITIGATION_ACTION_NAMES": ",".join(f"{STACK_NAME}-{name}" for name in template_mitigation_actions()),
        "FINDING_WINDOW_SECONDS": "300",
        "HISTORY_RETENTION_DAYS": "90",
        "KILL_SWITCH_PARAMETER_NAME": f"/{STACK_NAME}/kill-switch",
    }
    values.update(overrides)
    return values


@dataclass
class FakeExecutions:
    """Records every StartExecution call. It never decides that a name was used before: a test that
    plays Step Functions returning an earlier run names it in `existing`."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)

    def start(self, name: str, input_json: str) -> StartedExecution:
        self.calls.append((name, input_json))
        return StartedExecution(execution_arn(STATE_MACHINE_ARN, name), already_existed=name in self.existing)

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
class FakeKillSwitch:
    """The switch's reading, set by the test; every read is counted."""

    reading: SwitchReading = field(default_factory=lambda: reading_of("released"))
    reads: int = 0

    def read(self) -> SwitchReading:
        self.reads += 1
        return self.reading


@dataclass
class FakeQuarantine:
    kept: list[tuple[Any, str]] = field(default_factory=list)

    def keep(self, event: Any, reason: str, message_id: str | None) -> None:
        self.kept.append((event, reason))


_TABLES = itertools.count()


class IdempotencyTable:
    """Powertools idempotency itself on a table in moto's DynamoDB (inside `mock_aws`): the store's
    conditional writes decide what is a duplicate, not a stand-in."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        # A fresh table per set of fakes, so property tests may build many inside one mock.
        self.name = f"idempotency-{next(_TABLES)}"
        self.config: IdempotencyConfig = idempotency_config()
        self._once = once_per_key(
            DynamoDBPersistenceLayer(table_name=self.name, boto3_client=self.client), self.config
        )
        self._created = False

    def start_once(self, *, request: OnceKey, order: StartOrder, services: Services) -> Started:
        # The table appears on first use: property tests build thousands of fakes that never start.
        if not self._created:
            self.client.create_table(
                TableName=self.name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            )
            self._created = True
        return self._once(request=request, order=order, services=services)

    def items(self) -> list[dict[str, Any]]:
        if not self._created:
            return []
        return self.client.scan(TableName=self.name, ConsistentRead=True)["Items"]

    def expire(self) -> None:
        """What the record's TTL does a day later."""
        for item in self.items():
            self.client.delete_item(TableName=self.name, Key={"id": item["id"]})


@dataclass
class Fakes:
    services: Services
    executions: FakeExecutions
    history: FakeHistory
    quarantine: FakeQuarantine
    once: IdempotencyTable
    kill_switch: FakeKillSwitch


class RemediationTable:
    """RemediationTable in moto's DynamoDB (inside `mock_aws`), behind the real adapter: DynamoDB's
    conditions and transactions decide, not the test's stand-in."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.name = f"{environment()['REMEDIATION_TABLE_NAME']}-{next(_TABLES)}"
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
    executions, quarantine, once = FakeExecutions(), FakeQuarantine(), IdempotencyTable()
    fake_history, kill_switch = FakeHistory(), FakeKillSwitch()
    services = Services(
        settings=AuditEventsSettings.from_environment(environment(**env)),
        rules=rules,
        executions=executions,
        history=history or fake_history,
        quarantine=quarantine,
        start_once=once.start_once,
        kill_switch=kill_switch,
        clock=lambda: now,
    )
    return Fakes(services, executions, fake_history, quarantine, once, kill_switch)
