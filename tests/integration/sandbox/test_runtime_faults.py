"""Fault injection and the call log, for any service and operation."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import Sandbox
from tests.conftest import ROOT

ROLE_ARN = "arn:aws:iam::123456789012:role/mitigation"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def test_an_injected_error_has_the_service_models_status_and_is_counted(sb: Sandbox) -> None:
    # Given a 410 on the next two StartAuditMitigationActionsTask calls
    sb.faults.add("iot", "StartAuditMitigationActionsTask", error="LimitExceededException", times=2)
    iot = sb.client("iot")
    request = {
        "taskId": "t1",
        "target": {"findingIds": ["f1"]},
        "auditCheckToActionsMapping": {"LOGGING_DISABLED_CHECK": ["a"]},
        "clientRequestToken": "c1",
    }

    # When it is called three times
    errors = []
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            iot.start_audit_mitigation_actions_task(**request)
        errors.append(raised.value)

    # Then the first two got the injected 410 (typed exception), the third reached the emulator
    assert [type(e).__name__ for e in errors[:2]] == ["LimitExceededException"] * 2
    assert [e.response["ResponseMetadata"]["HTTPStatusCode"] for e in errors[:2]] == [410, 410]
    assert errors[2].response["Error"]["Code"] == "InvalidRequestException"
    assert "Injected" not in errors[2].response["Error"]["Message"]
    # ... and the call log saw exactly three calls, with what was asked and what came back
    calls = sb.calls.of("iot", "StartAuditMitigationActionsTask")
    assert [(c.outcome, c.status, c.injected) for c in calls] == [
        ("LimitExceededException", 410, True),
        ("LimitExceededException", 410, True),
        ("InvalidRequestException", 400, False),
    ]
    assert all(call.params == request for call in calls)
    assert sb.calls.count("iot", "StartAuditMitigationActionsTask", outcome="LimitExceededException") == 2


def test_a_fault_wins_over_moto_and_the_emulator_only_for_its_operation(sb: Sandbox) -> None:
    sb.faults.add("iot", "ListThingGroups", error="InternalFailureException", times=None)
    sb.faults.add("iot", "ListMitigationActions", error="InternalFailureException", times=None)
    iot = sb.client("iot", config=NO_RETRIES)

    for call in (iot.list_thing_groups, iot.list_mitigation_actions):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert iot.list_things()["things"] == []
    now = sb.clock.now()
    assert iot.list_audit_tasks(startTime=now - timedelta(hours=1), endTime=now)["tasks"] == []


def test_status_message_and_a_predicate_narrow_a_fault(sb: Sandbox) -> None:
    sb.faults.add(
        "dynamodb",
        "PutItem",
        error="ThrottlingException",
        status=429,
        message="slow down",
        times=None,
        when=lambda params: params["TableName"] == "hot",
    )
    dynamodb = sb.client("dynamodb", config=NO_RETRIES)
    for table in ("hot", "cold"):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    dynamodb.put_item(TableName="cold", Item={"pk": {"S": "1"}})
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName="hot", Item={"pk": {"S": "1"}})

    assert raised.value.response["Error"] == {"Code": "ThrottlingException", "Message": "slow down"}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_service_ids_and_client_names_both_select_the_service(sb: Sandbox) -> None:
    sb.faults.add("sfn", "ListStateMachines", error="ThrottlingException", times=1)
    sb.faults.add("stepfunctions", "ListStateMachines", error="ThrottlingException", times=1)
    sfn = sb.client("stepfunctions", config=NO_RETRIES)

    for _ in range(2):
        with pytest.raises(ClientError):
            sfn.list_state_machines()
    assert sfn.list_state_machines()["stateMachines"] == []


def test_a_client_with_sdk_retries_rides_out_throttling_each_attempt_logged(sb: Sandbox) -> None:
    # Given two throttles and a client in standard retry mode (3 attempts)
    sb.faults.add("iot", "ListThingGroups", error="ThrottlingException", times=2)
    iot = sb.client("iot", config=Config(retries={"mode": "standard"}))

    # When it calls once
    groups = iot.list_thing_groups()

    # Then botocore's policy retried the throttles and the third attempt went through
    assert groups["thingGroups"] == []
    assert [(c.outcome, c.attempt) for c in sb.calls.of("iot", "ListThingGroups")] == [
        ("ThrottlingException", 1),
        ("ThrottlingException", 2),
        ("ok", 3),
    ]


def test_sdk_retries_do_not_retry_what_botocore_would_not(sb: Sandbox) -> None:
    sb.faults.add("iot", "ListThingGroups", error="InvalidRequestException", times=None)
    iot = sb.client("iot", config=Config(retries={"mode": "standard"}))

    with pytest.raises(ClientError):
        iot.list_thing_groups()

    assert sb.calls.count("iot", "ListThingGroups") == 1


def test_the_sandboxs_own_calls_are_not_logged(sb: Sandbox) -> None:
    sb.deploy("template.yaml", parameters={"ManageAccountAuditConfiguration": "true"})

    assert len(sb.calls) == 0


def test_faults_need_something_to_inject(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="error, a delay"):
        sb.faults.add("iot", "ListThingGroups")
    with pytest.raises(ValueError, match="times"):
        sb.faults.add("iot", "ListThingGroups", error="ThrottlingException", times=0)


FIRST_SANDBOX = """
import json, boto3
from botocore.exceptions import ClientError
from sandbox import Sandbox

with Sandbox() as sb:
    sb.faults.add("iot", "ListMitigationActions", error="ThrottlingException", times=1)
    client = boto3.client("iot", config=__import__("botocore.config").config.Config(retries={"total_max_attempts": 1}))
    try:
        client.list_mitigation_actions()
        outcome = "no fault"
    except ClientError as error:
        outcome = error.response["Error"]["Code"]
    emulated = client.list_mitigation_actions()["actionIdentifiers"]
    print(json.dumps({"outcome": outcome, "emulated": emulated, "logged": [c.outcome for c in sb.calls]}))
"""


def test_the_first_sandbox_of_a_process_has_its_hooks_on_the_default_session() -> None:
    # In-process tests open sandboxes after others did; only a fresh interpreter shows the first one.
    completed = subprocess.run(
        [sys.executable, "-c", FIRST_SANDBOX],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == {
        "outcome": "ThrottlingException",
        "emulated": [],
        "logged": ["ThrottlingException", "ok"],
    }
