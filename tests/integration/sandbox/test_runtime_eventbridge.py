"""EventBridge in the sandbox: Step Functions status-change events, input transformers, and the
targets moto does not deliver to (SNS, Lambda, Step Functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.stepfunctions.parser.utils import TMP_THREADS

from sandbox import Sandbox, transform_input
from sandbox.executions import execution_arn
from sandbox.subscriptions import subscribe_queue
from tests.conftest import ROOT
from tests.integration.sandbox.conftest import RUNTIME_TEMPLATE

EVENT = {
    "source": "aws.states",
    "time": "2026-01-01T00:00:00Z",
    "detail": {
        "status": "FAILED",
        "name": "run-1",
        "startDate": 1767225600000,
        "stopDate": None,
        "tags": ["a"],
    },
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"status": <status>}', {"status": "FAILED"}),
        ('{"text": "<name> is <status>"}', {"text": "run-1 is FAILED"}),
        (
            '{"start": <start>, "stop": <stop>, "tags": <tags>}',
            {"start": 1767225600000, "stop": None, "tags": ["a"]},
        ),
        ('{"missing": <missing>}', {"missing": None}),
        ('{"quoted": "say \\"<status>\\""}', {"quoted": 'say "FAILED"'}),
        ("<name> is <status>", "run-1 is FAILED"),
    ],
)
def test_input_transformer_quotes_values_as_eventbridge_does(template: str, expected: Any) -> None:
    paths = {
        "status": "$.detail.status",
        "name": "$.detail.name",
        "start": "$.detail.startDate",
        "stop": "$.detail.stopDate",
        "tags": "$.detail.tags",
        "missing": "$.detail.nothing",
    }

    assert transform_input(template, paths, EVENT) == expected


def test_ended_executions_reach_event_bridge_rules(sb: Sandbox) -> None:
    # Given the runtime stack's rule sending its workflow's failures to a queue (with an input transformer)
    stack = sb.deploy(RUNTIME_TEMPLATE, stack_name="runtime")

    # When one execution fails and one succeeds
    failed = sb.run_execution("EchoWorkflow", {"abort": True}, name="doomed")
    succeeded = sb.run_execution("EchoWorkflow", {"fine": True}, name="fine")

    # Then only the failure arrived, shaped by the rule's template
    assert (failed.status, succeeded.status) == ("FAILED", "SUCCEEDED")
    messages = sb.client("sqs").receive_message(QueueUrl=stack["WorkflowFailures"], MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"]) for m in messages] == [{"status": "FAILED", "execution": "doomed"}]


def test_the_templates_failed_execution_rule_reports_to_the_reports_topic(sb: Sandbox) -> None:
    # Given the real stack and a queue listening to its reports topic
    stack = sb.deploy(ROOT / "template.yaml", parameters={"ManageAccountAuditConfiguration": "true"})
    sqs = sb.client("sqs")
    queue_url = sqs.create_queue(QueueName="reports-listener")["QueueUrl"]
    subscribe_queue(sqs, sb.client("sns"), queue_url, stack["RemediationReportsTopic"])
    arn = execution_arn(stack["RemediationStateMachine"], "run-1")
    detail = {
        "executionArn": arn,
        "stateMachineArn": stack["RemediationStateMachine"],
        "name": "run-1",
        "status": "TIMED_OUT",
        "startDate": 1767225600000,
        "stopDate": 1767229200000,
    }

    # When Step Functions reports that one of its executions timed out
    sb.client("events").put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [arn],
            }
        ]
    )

    # Then the rule published the template's document to the reports topic
    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == {
        "kind": "execution-ended-abnormally",
        "status": "TIMED_OUT",
        "executionArn": arn,
        "executionName": "run-1",
        "stateMachineArn": stack["RemediationStateMachine"],
        "startDate": 1767225600000,
        "stopDate": 1767229200000,
    }


def test_executions_aborted_by_closing_the_sandbox_send_nothing_outside_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an execution waiting far beyond the test
    with Sandbox(time_scale=0.001) as sb:
        role = sb.client("iam").create_role(
            RoleName="waiting",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        machine = sb.client("stepfunctions").create_state_machine(
            name="waiting",
            roleArn=role,
            definition=json.dumps(
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 10**7, "End": True}}}
            ),
        )["stateMachineArn"]
        sb.client("stepfunctions").start_execution(stateMachineArn=machine, name="left-running")
        assert sb.running_executions()

    # When the sandbox closes (aborting it) and the execution's worker has ended
    for thread in list(TMP_THREADS):
        thread.join(timeout=10)

    # Then its status-change event was never sent once moto's mock had stopped (to the real endpoint)
    assert not [record for record in caplog.records if "status change event" in record.getMessage()]


def test_a_rule_with_only_a_schedule_receives_no_events(sb: Sandbox) -> None:
    # Given a scheduled rule and a rule with a pattern, each sending to its own queue
    events, sqs = sb.client("events"), sb.client("sqs")
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("scheduled", "matched")}
    arns = {
        name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name, url in queues.items()
    }
    events.put_rule(Name="scheduled", ScheduleExpression="rate(1 day)")
    events.put_rule(Name="matched", EventPattern=json.dumps({"source": ["sandbox.test"]}))
    for name in queues:
        events.put_targets(Rule=name, Targets=[{"Id": name, "Arn": arns[name]}])

    # When an event is put on the default bus
    events.put_events(Entries=[{"Source": "sandbox.test", "DetailType": "probe", "Detail": "{}"}])

    # Then only the rule with a pattern got it (PutRule: scheduled rules self-trigger on their schedule)
    received = {
        name: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
        for name, url in queues.items()
    }
    assert (len(received["matched"]), received["scheduled"]) == (1, [])
