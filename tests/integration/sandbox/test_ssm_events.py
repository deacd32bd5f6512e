"""Parameter Store's change events in the sandbox: the documented "Parameter Store Change" event for
every parameter created, updated or deleted (Systems Manager user guide, EventBridge event examples)."""

from __future__ import annotations

import json
from typing import Any

from sandbox import Sandbox


def events_of(sb: Sandbox, queue_url: str) -> list[dict[str, Any]]:
    messages = (
        sb.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    return [json.loads(message["Body"]) for message in messages]


def test_creating_updating_and_deleting_a_parameter_each_send_the_documented_event() -> None:
    with Sandbox() as sb, sb.calls.pause():
        sqs, events, ssm = sb.client("sqs"), sb.client("events"), sb.client("ssm")
        queue_url = sqs.create_queue(QueueName="parameter-changes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="parameter-changes",
            EventPattern=json.dumps({"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"]}),
        )
        events.put_targets(Rule="parameter-changes", Targets=[{"Id": "queue", "Arn": queue_arn}])

        ssm.put_parameter(Name="/app/switch", Value="released", Type="String", Description="the switch")
        ssm.put_parameter(Name="/app/switch", Value="pulled", Overwrite=True)
        ssm.put_parameter(Name="plain", Value="x", Type="StringList")
        ssm.delete_parameter(Name="/app/switch")
        ssm.delete_parameters(Names=["plain", "never-created"])

        received = [event for _ in range(3) for event in events_of(sb, queue_url)]

    assert [(e["source"], e["detail-type"]) for e in received] == [("aws.ssm", "Parameter Store Change")] * 5
    assert [(e["detail"], e["resources"]) for e in received] == [
        (
            {"operation": "Create", "name": "/app/switch", "type": "String", "description": "the switch"},
            [f"arn:aws:ssm:{sb.region}:{sb.account_id}:parameter/app/switch"],
        ),
        (
            {"operation": "Update", "name": "/app/switch", "type": "String", "description": "the switch"},
            [f"arn:aws:ssm:{sb.region}:{sb.account_id}:parameter/app/switch"],
        ),
        (
            {"operation": "Create", "name": "plain", "type": "StringList"},
            [f"arn:aws:ssm:{sb.region}:{sb.account_id}:parameter/plain"],
        ),
        (
            {"operation": "Delete", "name": "/app/switch", "type": "String", "description": "the switch"},
            [f"arn:aws:ssm:{sb.region}:{sb.account_id}:parameter/app/switch"],
        ),
        (
            {"operation": "Delete", "name": "plain", "type": "StringList"},
            [f"arn:aws:ssm:{sb.region}:{sb.account_id}:parameter/plain"],
        ),
    ]
