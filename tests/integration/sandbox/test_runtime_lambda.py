"""In-process Lambda: direct invocation, lambda:invoke tasks, SNS deliveries with async retries."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from moto.stepfunctions.parser.backend.execution import Execution

from sandbox import LambdaFunctionError, Sandbox, Stack
from tests.integration.sandbox.conftest import RUNTIME_TEMPLATE, TIME_SCALE


def test_invoke_runs_the_template_handler_with_its_environment_layer_and_context(
    sb: Sandbox, echo_stack: Stack
) -> None:
    # Given the deployed echo function (environment from the template, settings from its layer)
    environment_before = dict(os.environ)

    # When it is invoked by logical id
    result = sb.invoke("EchoFunction", {"hello": "world"})

    # Then the handler named in the template ran with the function's environment and context
    assert result["event"] == {"hello": "world"}
    assert result["settings"] == {"mode": "enforce", "topicArn": echo_stack["EventsTopic"]}
    assert result["environment"] == {
        "MODE": "enforce",
        "AWS_LAMBDA_FUNCTION_NAME": "runtime-echo",
        "AWS_REGION": "us-east-1",
    }
    context = result["context"]
    assert context["functionName"] == "runtime-echo"
    assert context["memoryLimitInMB"] == 256
    assert context["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:runtime-echo"
    assert 0 < context["remainingMillis"] <= 20_000
    # ... and the process environment is back as it was
    assert dict(os.environ) == environment_before
    assert sb.lambdas.invocations[-1].request_id == context["requestId"]


def test_the_same_function_is_found_by_name_and_arn_and_keeps_its_container(
    sb: Sandbox, echo_stack: Stack
) -> None:
    arn = echo_stack.get_att("EchoFunction", "Arn")

    first = sb.invoke("runtime-echo", {})
    second = sb.invoke(arn, {})

    assert (first["invocationsInThisContainer"], second["invocationsInThisContainer"]) == (1, 2)


def test_every_sandbox_is_a_cold_start(sb: Sandbox) -> None:
    # Given a first sandbox deployed in DryRun whose layer caches its settings
    sb.deploy(RUNTIME_TEMPLATE, parameters={"Mode": "DryRun"}, stack_name="runtime")
    assert sb.invoke("EchoFunction", {})["settings"]["mode"] == "dry-run"
    sb.close()

    # When a second sandbox deploys the same template in Enforce
    with Sandbox(time_scale=TIME_SCALE) as second:
        second.deploy(RUNTIME_TEMPLATE, parameters={"Mode": "Enforce"}, stack_name="runtime")
        result = second.invoke("EchoFunction", {})

    # Then the function started from scratch: no cached settings, a fresh container
    assert result["settings"]["mode"] == "enforce"
    assert result["invocationsInThisContainer"] == 1


def test_a_raising_handler_surfaces_as_a_lambda_function_error(sb: Sandbox, echo_stack: Stack) -> None:
    with pytest.raises(LambdaFunctionError) as raised:
        sb.invoke("EchoFunction", {"fail": "on purpose"})

    assert raised.value.error_type == "EchoError"
    assert raised.value.error_message == "asked to fail: on purpose"
    assert type(raised.value.__cause__).__name__ == "EchoError"


def test_boto3_invoke_reaches_the_handler(sb: Sandbox, echo_stack: Stack) -> None:
    client = sb.client("lambda")

    ok = client.invoke(FunctionName="runtime-echo", Payload=json.dumps({"n": 1}).encode())
    failed = client.invoke(FunctionName="runtime-echo", Payload=json.dumps({"fail": "x"}).encode())

    assert json.loads(ok["Payload"].read())["event"] == {"n": 1}
    assert "FunctionError" not in ok
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "EchoError"


def test_lambda_invoke_task_runs_in_process(sb: Sandbox, echo_stack: Stack) -> None:
    # When the template's workflow calls the function through arn:aws:states:::lambda:invoke
    result = sb.run_execution("EchoWorkflow", {"audit": "a1"})

    # Then the handler's result is the task's Payload
    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json == {"echoed": {"audit": "a1"}, "mode": "enforce", "statusCode": 200}


def test_a_handler_error_in_a_lambda_invoke_task_is_named_after_the_exception(
    sb: Sandbox, echo_stack: Stack
) -> None:
    result = sb.run_execution("EchoWorkflow", {"fail": "in workflow"})

    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json["Error"] == "EchoError"
    assert json.loads(result.output_json["Cause"])["errorMessage"] == "asked to fail: in workflow"


def sns_records(sb: Sandbox) -> list[dict[str, Any]]:
    return [
        invocation.event["Records"][0]
        for invocation in sb.lambdas.invocations
        if "Records" in invocation.event
    ]


def test_sns_delivers_the_real_event_shape_to_the_subscribed_function(sb: Sandbox, echo_stack: Stack) -> None:
    # Given the function subscribed to the topic by the template
    sns = sb.client("sns")
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=echo_stack["EventsTopic"])["Subscriptions"]

    # When a message is published
    message_id = sns.publish(
        TopicArn=echo_stack["EventsTopic"],
        Message=json.dumps({"taskId": "t1"}),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "audit"}},
    )["MessageId"]
    sb.settle()

    # Then the function got one asynchronous invocation with SNS's event
    [record] = sns_records(sb)
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    assert record["EventSubscriptionArn"].startswith(echo_stack["EventsTopic"] + ":")
    notification = record["Sns"]
    assert notification["Type"] == "Notification"
    assert notification["TopicArn"] == echo_stack["EventsTopic"]
    assert notification["MessageId"] == message_id
    assert notification["Subject"] is None
    assert json.loads(notification["Message"]) == {"taskId": "t1"}
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "audit"}}
    [invocation] = sb.lambdas.invocations
    assert invocation.invocation_type == "Event"
    assert invocation.succeeded


def test_a_failing_delivery_is_retried_then_sent_to_the_on_failure_queue(sb: Sandbox) -> None:
    # Given two retries configured by the template's EventInvokeConfig
    stack = sb.deploy(RUNTIME_TEMPLATE, parameters={"RetryAttempts": 2}, stack_name="runtime")

    # When a message makes the handler raise
    sb.client("sns").publish(TopicArn=stack["EventsTopic"], Message=json.dumps({"fail": "always"}))
    sb.settle()

    # Then Lambda ran it three times, then wrote the destination record to the queue
    assert [(i.attempt, i.succeeded) for i in sb.lambdas.invocations] == [(1, False), (2, False), (3, False)]
    messages = sb.client("sqs").receive_message(QueueUrl=stack["FailureQueue"], MaxNumberOfMessages=10)[
        "Messages"
    ]
    [message] = messages
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == stack.get_att("EchoFunction", "Arn") + ":$LATEST"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "EchoError"
    assert json.loads(record["requestPayload"]["Records"][0]["Sns"]["Message"]) == {"fail": "always"}


def test_a_delivery_that_succeeds_on_retry_sends_nothing_to_the_queue(sb: Sandbox, echo_stack: Stack) -> None:
    # Given a message on which the handler fails only its first invocation
    sb.client("sns").publish(
        TopicArn=echo_stack["EventsTopic"], Message=json.dumps({"failFirstInvocations": 1})
    )

    # When the deliveries settle
    sb.settle()

    # Then the retry succeeded and the failure queue stayed empty
    assert [(i.attempt, i.succeeded) for i in sb.lambdas.invocations] == [(1, False), (2, True)]
    queue = sb.client("sqs").receive_message(QueueUrl=echo_stack["FailureQueue"])
    assert "Messages" not in queue


def test_settle_waits_for_running_executions_and_close_aborts_them(sb: Sandbox, echo_stack: Stack) -> None:
    # Given an execution that waits five minutes of sandbox time (0.3 s real) and one that is left running
    sfn = sb.client("stepfunctions")
    machine = sb.client("stepfunctions").create_state_machine(
        name="waiter",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
        ),
        roleArn=echo_stack.get_att("EchoWorkflowRole", "Arn"),
    )["stateMachineArn"]
    short = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"s": 300}))["executionArn"]

    # When the sandbox settles
    sb.settle()

    # Then the execution had ended by then
    assert sfn.describe_execution(executionArn=short)["status"] == "SUCCEEDED"
    long = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"s": 10**7}))["executionArn"]
    assert sb.running_executions() == [long]
    with pytest.raises(TimeoutError, match="executions running"):
        sb.settle(timeout=0.2)
    sb.close()
    assert sb.running_executions() == []


def test_an_execution_listed_but_not_yet_started_counts_as_running(
    sb: Sandbox, echo_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a look at the running executions in the moment moto has listed a new execution but not
    # started it (StartExecution on another thread while settle() polls)
    seen: list[list[str]] = []
    start = Execution.start

    def start_after_a_look(execution: Execution) -> None:
        seen.append(sb.running_executions())
        start(execution)

    monkeypatch.setattr(Execution, "start", start_after_a_look)
    sfn = sb.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="waiter",
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}),
        roleArn=echo_stack.get_att("EchoWorkflowRole", "Arn"),
    )["stateMachineArn"]

    # When an execution starts
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    # Then it counted as running before it had a status
    assert seen == [[arn]]


def test_a_handler_running_past_its_timeout_fails_as_lambda_reports_it(
    sb: Sandbox, echo_stack: Stack
) -> None:
    sb.invoke("EchoFunction", {})  # the cold start's imports are init time, not counted
    sb.lambdas.update("EchoFunction", timeout_seconds=0)

    with pytest.raises(LambdaFunctionError) as raised:
        sb.invoke("EchoFunction", {})

    assert "Task timed out" in raised.value.error_message
    assert "errorType" not in raised.value.payload
