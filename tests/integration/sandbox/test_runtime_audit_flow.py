"""The parts together: an emulated audit notifies the template's topic, SNS delivers to the real
handler in-process, and the handler starts the real state machine."""

from __future__ import annotations

import json

from sandbox import Sandbox
from tests.conftest import ROOT


def test_an_audit_completion_reaches_the_handler_and_starts_one_execution(sb: Sandbox) -> None:
    # Given the stack, owning the account's audit configuration, and the workshop fleet
    stack = sb.deploy(
        ROOT / "template.yaml",
        parameters={"RemediationMode": "DryRun", "ManageAccountAuditConfiguration": "true"},
    )
    iot = sb.client("iot")
    fleet = sb.seed_fleet("workshop")
    assert {"SensorDevice01", "SensorDevice02"} <= set(fleet.things)

    # When an on-demand audit of the shared-certificate check runs to completion
    task_id = iot.start_on_demand_audit_task(targetCheckNames=["DEVICE_CERTIFICATE_SHARED_CHECK"])["taskId"]
    sb.settle()

    # Then SNS delivered Device Defender's notification to the function once, asynchronously ...
    [invocation] = [i for i in sb.lambdas.invocations if i.function_name == stack["AuditEventsFunction"]]
    assert invocation.invocation_type == "Event"
    assert invocation.succeeded, invocation.error
    record = invocation.event["Records"][0]
    assert record["Sns"]["TopicArn"] == stack["AuditEventsTopic"]
    assert json.loads(record["Sns"]["Message"])["taskId"] == task_id
    # ... the handler decided to remediate and started the one execution named after the audit
    assert invocation.result["decision"] == "remediate"
    executions = sb.client("stepfunctions").list_executions(stateMachineArn=stack["RemediationStateMachine"])
    assert [e["name"] for e in executions["executions"]] == [invocation.result["execution"]["name"]]
    assert sb.calls.count("stepfunctions", "StartExecution") == 1
