"""Service deliveries under IAM: CloudWatch alarms and SNS's dead-letter redrive reach their targets
through the stack's topic, queue and key policies, whichever of AWS's unconfirmed readings holds
(does a delivering service send aws:SourceArn/aws:SourceAccount to KMS?), and a refused one is silent
for the sender and visible in the call log and the delivering service's metric."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from sandbox.iam.service_contexts import KeyReading, Readings
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow

READINGS = [pytest.param(reading, id=reading.value) for reading in KeyReading]


@pytest.fixture(params=READINGS)
def workflow(request: pytest.FixtureRequest) -> Iterator[Workflow]:
    with Sandbox(time_scale=TIME_SCALE, readings=Readings(keys=request.param)) as sandbox:
        workflow = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        workflow.subscribe_reports()
        yield workflow


def test_an_alarm_of_the_stack_notifies_the_encrypted_reports_topic(workflow: Workflow) -> None:
    # Given the stack's QuarantineBlockedAlarm
    sb = workflow.sb
    alarm = workflow.stack.physical_ids["QuarantineBlockedAlarm"]

    # When it goes into ALARM
    sb.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="a policy guard blocked"
    )

    # Then CloudWatch's notification reaches the reports topic's subscribers, and nothing was refused
    reports = workflow.reports(at_least=1)
    assert [report.get("AlarmName") for report in reports] == [alarm]
    assert reports[0]["NewStateValue"] == "ALARM"
    assert sb.iam.denials == []


def test_a_delivery_the_function_refuses_is_kept_in_the_subscription_dlq(workflow: Workflow) -> None:
    # Given SNS no longer allowed to invoke the function (its permission removed, as by hand)
    sb = workflow.sb
    function = workflow.stack.physical_ids["AuditEventsFunction"]
    lambda_client = sb.client("lambda")
    for statement in json.loads(lambda_client.get_policy(FunctionName=function)["Policy"])["Statement"]:
        lambda_client.remove_permission(FunctionName=function, StatementId=statement["Sid"])

    # When a notification is published to the audit topic
    topic = workflow.stack.physical_ids["AuditEventsTopic"]
    sb.client("sns").publish(TopicArn=topic, Message=json.dumps({"taskId": "refused-delivery"}))

    # Then the function never ran, SNS counted a failed notification, the refusal is in the call log ...
    assert sb.lambdas.invocations == []
    refused = sb.calls.of("sns", "Invoke")
    assert [call.outcome for call in refused] == ["AccessDeniedException"]
    assert refused[0].caller == "sns.amazonaws.com"
    failed = sb.client("cloudwatch").list_metrics(
        Namespace="AWS/SNS", MetricName="NumberOfNotificationsFailed"
    )
    assert [metric["Dimensions"] for metric in failed["Metrics"]] == [
        [{"Name": "TopicName", "Value": topic.rsplit(":", 1)[-1]}]
    ]
    # ... and the message waits in the subscription's dead-letter queue, encrypted with the audit key
    sqs = sb.client("sqs")
    dlq = sqs.get_queue_url(
        QueueName=workflow.stack.physical_ids["AuditEventsSubscriptionDLQ"].rsplit("/", 1)[-1]
    )
    kept = sqs.receive_message(QueueUrl=dlq["QueueUrl"], MaxNumberOfMessages=10).get("Messages", [])
    assert len(kept) == 1
    assert json.loads(json.loads(kept[0]["Body"])["Message"]) == {"taskId": "refused-delivery"}


def test_a_report_the_topic_policy_refuses_to_eventbridge_is_counted_not_delivered(
    workflow: Workflow,
) -> None:
    # Given the reports topic's policy without its statement for the failed-executions rule
    sb = workflow.sb
    topic = workflow.stack.physical_ids["RemediationReportsTopic"]
    sns = sb.client("sns")
    document = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    document["Statement"] = [
        s for s in document["Statement"] if s.get("Sid") != "FailedExecutionsRulePublishes"
    ]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(document))
    machine = workflow.stack.physical_ids["RemediationStateMachine"]
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:run-1"

    # When Step Functions reports an execution that timed out
    sb.client("events").put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(
                    {"executionArn": execution, "stateMachineArn": machine, "status": "TIMED_OUT"}
                ),
                "Resources": [execution],
            }
        ]
    )

    # Then nothing reaches the topic, and the refusal shows in the call log and EventBridge's metric
    assert workflow.reports() == []
    [refused] = sb.calls.of("events", "Publish")
    assert (refused.outcome, refused.caller) == ("AuthorizationError", "events.amazonaws.com")
    failed = sb.client("cloudwatch").list_metrics(Namespace="AWS/Events", MetricName="FailedInvocations")
    rule = workflow.stack.physical_ids["RemediationExecutionFailedRule"]
    assert [metric["Dimensions"] for metric in failed["Metrics"]] == [[{"Name": "RuleName", "Value": rule}]]
    # ... and the event waits in the target's dead-letter queue, with the rule that could not deliver it
    sqs = sb.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{workflow.stack.name}-remediation-reports-delivery-dlq")["QueueUrl"]
    [kept] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(kept["Body"])["detail"]["executionArn"] == execution
    assert kept["MessageAttributes"]["RULE_ARN"]["StringValue"].endswith(f"rule/{rule}")
