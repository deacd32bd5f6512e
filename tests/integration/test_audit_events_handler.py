"""The real handler against moto: Powertools idempotency in DynamoDB, StartExecution, the quarantine queue.

Tables are created from template.yaml's own definitions. Covers A1-A9, the fail-closed configuration
readers and the decision log end to end at the handler.
"""

import importlib.util
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyKeyError,
    IdempotencyPersistenceLayerError,
)
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from audit_remediator import services as production
from audit_remediator.errors import RulesError
from audit_remediator.intake import StartOrder
from audit_remediator.observability import logger
from tests.conftest import ACCOUNT_ID, REGION, ROOT, STACK_NAME, load_event
from tests.unit.fakes import environment

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "AuditEventsFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:AuditEventsFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "audit_events_app", ROOT / "functions" / "audit_events" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(logical_id: str) -> dict[str, Any]:
    properties = TEMPLATE["Resources"][logical_id]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
    return {key: properties[key] for key in keys if key in properties}


@dataclass
class Stack:
    env: dict[str, str]
    handler: ModuleType

    def invoke(self, event: Any, request_id: str = "request-1") -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, LambdaContext(request_id))
        return result

    def executions(self) -> list[dict[str, Any]]:
        client = boto3.client("stepfunctions", region_name=REGION)
        return client.list_executions(stateMachineArn=self.env["STATE_MACHINE_ARN"])["executions"]

    def idempotency_items(self) -> list[dict[str, Any]]:
        return boto3.client("dynamodb", region_name=REGION).scan(
            TableName=self.env["IDEMPOTENCY_TABLE_NAME"]
        )["Items"]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=f"{STACK_NAME}-idempotency", **_table("IdempotencyTable"))
        dynamodb.create_table(TableName=f"{STACK_NAME}-remediation", **_table("RemediationTable"))
        queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="quarantine")["QueueUrl"]
        role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="RemediationStateMachine",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=role,
        )["stateMachineArn"]
        env = environment(
            STATE_MACHINE_ARN=machine,
            QUARANTINE_QUEUE_URL=queue_url,
            IDEMPOTENCY_TABLE_NAME=f"{STACK_NAME}-idempotency",
            REMEDIATION_TABLE_NAME=f"{STACK_NAME}-remediation",
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # The stack's kill switch, released as deployed: without it every start reads as pulled.
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=env["KILL_SWITCH_PARAMETER_NAME"], Value="released", Type="String"
        )
        cached_services = (
            production.audit_events_settings,
            production.rules,
            production.once_config,
            production.audit_events_services,
        )
        for cached in cached_services:
            cached.cache_clear()
        yield Stack(env, load_handler())
        for cached in cached_services:
            cached.cache_clear()


def test_an_audit_notification_starts_its_named_execution(stack: Stack) -> None:
    outcome = stack.invoke(load_event("scheduled-non-compliant"))
    [execution] = stack.executions()
    assert execution["name"] == outcome["execution"]["name"]
    assert outcome["decision"] == "remediate"


def test_three_sequential_deliveries_start_one_execution(stack: Stack) -> None:
    # A1, sequential: the second and third deliveries find the stored result
    event = load_event("scheduled-non-compliant")
    decisions = [stack.invoke(event, f"request-{n}")["decision"] for n in range(3)]
    assert decisions == ["remediate", "duplicate", "duplicate"]
    assert len(stack.executions()) == 1


def test_three_parallel_deliveries_start_one_execution(stack: Stack) -> None:
    # A1 in parallel and A4: one invocation proceeds; the others are duplicates, never a second run
    event = load_event("scheduled-non-compliant")
    decisions: list[str] = []
    barrier = threading.Barrier(3)

    def deliver(n: int) -> None:
        barrier.wait()
        decisions.append(stack.invoke(event, f"request-{n}")["decision"])

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(decisions) == ["duplicate", "duplicate", "remediate"]
    assert len(stack.executions()) == 1


def test_another_message_about_the_same_audit_starts_nothing_new(stack: Stack) -> None:
    # A2: the key is the business key (account, audit task, rules version), not the SNS MessageId
    first = load_event("scheduled-non-compliant")
    second = json.loads(json.dumps(first))
    second["Records"][0]["Sns"]["MessageId"] = "0e5b6c1a-0000-4000-8000-00000000beef"
    stack.invoke(first)
    assert stack.invoke(second, "request-2")["decision"] == "duplicate"
    assert len(stack.executions()) == 1
    [item] = stack.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"


def test_a_duplicate_after_the_record_expired_starts_nothing_new(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A3: the record is gone hours later; StartExecution with the same name and input returns the
    # running execution, which is someone else's run
    event = load_event("scheduled-non-compliant")
    stack.invoke(event)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in stack.idempotency_items():
        dynamodb.delete_item(TableName=stack.env["IDEMPOTENCY_TABLE_NAME"], Key={"id": item["id"]})
    executions = production.audit_events_services().executions
    monkeypatch.setattr(executions, "now", lambda: datetime.now(UTC) + timedelta(hours=5))
    outcome = stack.invoke(event, "request-2")
    assert outcome["decision"] == "duplicate"
    assert len(stack.executions()) == 1


def test_a_retry_after_a_timeout_past_start_execution_starts_nothing_new(stack: Stack) -> None:
    # A5: the first invocation started the execution and timed out before its record reached
    # COMPLETED; once in_progress_expiration has passed, the retry runs and finds the same execution.
    event = load_event("scheduled-non-compliant")
    stack.invoke(event)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    [item] = stack.idempotency_items()
    dynamodb.update_item(
        TableName=stack.env["IDEMPOTENCY_TABLE_NAME"],
        Key={"id": item["id"]},
        UpdateExpression="SET #status = :progress, in_progress_expiration = :past REMOVE #data",
        ExpressionAttributeNames={"#status": "status", "#data": "data"},
        ExpressionAttributeValues={":progress": {"S": "INPROGRESS"}, ":past": {"N": "1000"}},
    )
    outcome = stack.invoke(event, "request-2")
    assert outcome["execution"]["name"] == stack.executions()[0]["name"]
    assert len(stack.executions()) == 1
    [item] = stack.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"


def test_an_unavailable_idempotency_table_fails_closed(stack: Stack) -> None:
    # A7: no record, no execution; the invocation raises so Lambda retries and then keeps the event
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=stack.env["IDEMPOTENCY_TABLE_NAME"])
    with pytest.raises(IdempotencyPersistenceLayerError, match=r"ResourceNotFoundException"):
        stack.invoke(load_event("scheduled-non-compliant"))
    assert stack.executions() == []


def test_the_idempotency_key_can_never_silently_be_none(stack: Stack) -> None:
    # A9: the function the handler runs once raises when its key is missing, instead of running unguarded
    services = production.audit_events_services()
    with pytest.raises(IdempotencyKeyError):
        services.start_once(request={}, order=StartOrder("never-started", "{}"), services=services)  # type: ignore[arg-type]
    assert stack.idempotency_items() == []
    assert stack.executions() == []


def test_the_powertools_pin_has_the_in_progress_expiry_fix() -> None:
    # A6: in_progress_expiration exists from 2.42.0 on, so a killed invocation cannot block its retry
    lock = (ROOT / "uv.lock").read_text()
    version = re.search(r'name = "aws-lambda-powertools"\nversion = "([0-9.]+)"', lock)
    assert version is not None
    assert tuple(int(part) for part in version.group(1).split(".")) >= (2, 42, 0)


def test_a_finding_the_audits_execution_covers_is_not_claimed(stack: Stack) -> None:
    # D34 through the real transaction: the claim's condition check reads the audit's coverage record
    audit = stack.invoke(load_event("scheduled-non-compliant"))
    outcome = stack.invoke(load_event("finding-shared-certificate"), "request-2")
    assert outcome["decision"] == "duplicate"
    assert audit["execution"]["name"] in outcome["reason"]
    assert [execution["name"] for execution in stack.executions()] == [audit["execution"]["name"]]


def test_rejected_messages_are_kept_in_the_quarantine_queue(stack: Stack) -> None:
    event = load_event("malformed-json")
    outcome = stack.invoke(event)
    messages = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=stack.env["QUARANTINE_QUEUE_URL"], MaxNumberOfMessages=10
    )["Messages"]
    [kept] = [json.loads(message["Body"]) for message in messages]
    assert kept["reason"] == outcome["reason"]
    assert json.loads(kept["event"]) == event
    assert stack.executions() == []


def test_no_action_decisions_are_written_to_the_history_table(stack: Stack) -> None:
    stack.invoke(load_event("audit-failed"))
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=stack.env["REMEDIATION_TABLE_NAME"],
        Key={
            "pk": {"S": "AUDIT#aaaabbbbccccddddeeeeffff00001111"},
            "sk": {"S": f"DECISION#{stack.invoke(load_event('audit-failed'), 'r2')['rulesVersion']}"},
        },
    )["Item"]
    assert json.loads(item["decision"]["S"])["reason"] == "audit-incomplete: audit task FAILED"
    assert int(item["expiresAt"]["N"]) > int(item["recordedAt"]["N"])


def test_a_finding_is_claimed_once_and_queued_in_its_window(stack: Stack) -> None:
    event = load_event("finding-shared-certificate")
    first = stack.invoke(event)
    assert first["decision"] == "remediate"
    for item in stack.idempotency_items():
        boto3.client("dynamodb", region_name=REGION).delete_item(
            TableName=stack.env["IDEMPOTENCY_TABLE_NAME"], Key={"id": item["id"]}
        )
    assert stack.invoke(event, "request-2")["decision"] == "duplicate"
    inbox = boto3.client("dynamodb", region_name=REGION).query(
        TableName=stack.env["REMEDIATION_TABLE_NAME"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": first["execution"]["input"]["window"]["inboxKey"]}},
    )["Items"]
    assert [item["findingId"]["S"] for item in inbox] == ["3c1b9e7a55d24f0e8e2a6b4c9d7f1e20"]
    assert [execution["name"] for execution in stack.executions()] == [first["execution"]["name"]]


def test_the_handler_is_named_in_the_template() -> None:
    function = TEMPLATE["Resources"]["AuditEventsFunction"]["Properties"]
    module, _, name = function["Handler"].partition(".")
    assert (ROOT / function["CodeUri"] / f"{module}.py").is_file()
    assert hasattr(load_handler(), name)
    assert Path(ROOT / function["CodeUri"]).resolve() == (ROOT / "functions" / "audit_events").resolve()


def test_a_rule_naming_an_action_the_stack_lacks_fails_the_invocation_and_starts_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised, not returned: Lambda retries the event, then keeps it in the on-failure destination
    names = stack.env["MITIGATION_ACTION_NAMES"].split(",")
    monkeypatch.setenv(
        "MITIGATION_ACTION_NAMES", ",".join(n for n in names if not n.endswith("-EnableErrorLoggingAction"))
    )
    production.audit_events_settings.cache_clear()
    production.audit_events_services.cache_clear()

    with pytest.raises(
        RulesError,
        match=r"rules\[0\] \(LOGGING_DISABLED_CHECK\): mitigation action .*EnableErrorLoggingAction",
    ):
        stack.invoke(load_event("scheduled-non-compliant"))

    assert stack.executions() == []
    assert stack.idempotency_items() == []


@dataclass
class HeldStart:
    """The first StartExecution waits until the test lets it go, so other deliveries arrive while
    the first invocation holds its idempotency record."""

    entered: threading.Event
    release: threading.Event


@pytest.fixture
def held_start(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> HeldStart:
    executions = production.audit_events_services().executions
    real_start = executions.start
    held = HeldStart(threading.Event(), threading.Event())

    def start(name: str, input_json: str) -> Any:
        if not held.entered.is_set():
            held.entered.set()
            assert held.release.wait(30), "the test never released the first start"
        return real_start(name, input_json)

    monkeypatch.setattr(executions, "start", start)
    return held


def _in_background(call: Callable[[], dict[str, Any]]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(call()))
    thread.start()
    return thread, result


def test_a_rejected_concurrent_duplicate_leaves_the_first_invocations_lock(
    stack: Stack, held_start: HeldStart
) -> None:
    # A4: a delivery turned away while another holds the key must not delete or release its record
    event = load_event("scheduled-non-compliant")
    thread, first = _in_background(lambda: stack.invoke(event, "request-1"))
    assert held_start.entered.wait(30)
    second = stack.invoke(event, "request-2")
    [record] = stack.idempotency_items()
    assert record["status"]["S"] == "INPROGRESS"
    third = stack.invoke(event, "request-3")
    held_start.release.set()
    thread.join(30)
    assert (first["decision"], second["decision"], third["decision"]) == (
        "remediate",
        "duplicate",
        "duplicate",
    )
    assert len(stack.executions()) == 1


def test_the_in_progress_record_expires_with_the_invocation(stack: Stack, held_start: HeldStart) -> None:
    # A6: the handler gives Powertools the Lambda context, so a killed invocation's record carries
    # in_progress_expiration (its deadline) and a retry after that deadline is not stuck
    before_ms = int(time.time() * 1000)
    thread, _ = _in_background(lambda: stack.invoke(load_event("scheduled-non-compliant")))
    assert held_start.entered.wait(30)
    [record] = stack.idempotency_items()
    held_start.release.set()
    thread.join(30)
    deadline = int(record["in_progress_expiration"]["N"])
    assert before_ms + LambdaContext("r").get_remaining_time_in_millis() <= deadline
    assert deadline <= int(time.time() * 1000) + LambdaContext("r").get_remaining_time_in_millis()


def test_a_name_used_by_a_closed_execution_is_the_same_run(stack: Stack) -> None:
    # A5: the record is gone and the first execution has closed, so StartExecution answers
    # ExecutionAlreadyExists: that is this audit's run, not a failure and not a reason for another
    event = load_event("scheduled-non-compliant")
    stack.invoke(event)
    client = boto3.client("stepfunctions", region_name=REGION)
    [execution] = stack.executions()
    client.stop_execution(executionArn=execution["executionArn"])
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in stack.idempotency_items():
        dynamodb.delete_item(TableName=stack.env["IDEMPOTENCY_TABLE_NAME"], Key={"id": item["id"]})
    outcome = stack.invoke(event, "request-2")
    assert outcome["decision"] == "duplicate"
    assert [e["name"] for e in stack.executions()] == [execution["name"]]


def test_a_failure_after_start_execution_is_retried_into_the_same_execution(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A8: the invocation raises after StartExecution succeeded; Powertools deletes the in-progress
    # record, Lambda retries, and the retry finds the execution the first attempt started
    executions = production.audit_events_services().executions
    real_start = executions.start

    def start_then_fail(name: str, input_json: str) -> Any:
        real_start(name, input_json)
        raise ConnectionResetError("the connection dropped after StartExecution was accepted")

    monkeypatch.setattr(executions, "start", start_then_fail)
    event = load_event("scheduled-non-compliant")
    with pytest.raises(ConnectionResetError):
        stack.invoke(event)
    assert stack.idempotency_items() == []
    monkeypatch.setattr(executions, "start", real_start)
    retried = stack.invoke(event, "request-2")
    [execution] = stack.executions()
    assert retried["execution"]["name"] == execution["name"]
    [record] = stack.idempotency_items()
    assert record["status"]["S"] == "COMPLETED"


class InjectedFault(Exception):
    """An error no reader raises on its own, so nothing on the way can mistake it for a known one."""


def _break(target: Any, name: str) -> Callable[[pytest.MonkeyPatch], None]:
    def fault(*args: Any, **kwargs: Any) -> Any:
        raise InjectedFault(f"{name} failed")

    return lambda monkeypatch: monkeypatch.setattr(target, name, fault)


@pytest.mark.parametrize(
    "break_reader",
    [
        pytest.param(_break(production.AuditEventsSettings, "from_environment"), id="settings"),
        pytest.param(_break(production, "load_rules"), id="rules"),
        pytest.param(_break(production, "DeployedActions"), id="stack action names"),
    ],
)
def test_a_failing_configuration_reader_starts_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, break_reader: Callable[[pytest.MonkeyPatch], None]
) -> None:
    # Security property 10: any error reading the configuration means zero mitigation calls, and
    # the invocation fails so the event is retried and then kept
    break_reader(monkeypatch)
    with pytest.raises(InjectedFault):
        stack.invoke(load_event("scheduled-non-compliant"))
    assert stack.executions() == []
    assert stack.idempotency_items() == []


def _decision_log(stack: Stack, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        outcome = stack.invoke(event)
    finally:
        handler.setStream(previous)
    [line] = [
        entry for entry in map(json.loads, buffer.getvalue().splitlines()) if entry["message"] == "decision"
    ]
    return outcome, line


def test_the_decision_log_names_the_audit_message_execution_and_tasks(stack: Stack) -> None:
    # Security property 13: one structured line per decision an auditor can follow to AWS
    event = load_event("scheduled-non-compliant")
    outcome, line = _decision_log(stack, event)
    [execution] = stack.executions()
    assert line["decision"] == "remediate"
    assert line["auditTaskId"] == outcome["execution"]["input"]["auditTaskId"]
    assert line["snsMessageId"] == event["Records"][0]["Sns"]["MessageId"]
    assert line["rulesVersion"] == outcome["rulesVersion"]
    assert line["executionArn"] == execution["executionArn"]
    assert line["mitigationTaskIds"] == [task["taskId"] for task in outcome["mitigationTasks"]]
    assert line["affectedResources"] == sum(task["affectedResources"] for task in outcome["mitigationTasks"])
    assert line["affectedResources"] > 0


def test_the_decision_log_of_a_finding_names_the_finding(stack: Stack) -> None:
    event = load_event("finding-shared-certificate")
    outcome, line = _decision_log(stack, event)
    [execution] = stack.executions()
    assert line["executionArn"] == execution["executionArn"]
    assert line["findingIds"] == [json.loads(event["Records"][0]["Sns"]["Message"])["findingId"]]
    assert line["mitigationTaskIds"] == [task["taskId"] for task in outcome["mitigationTasks"]]
