"""Which action and resource IAM authorizes each API call on (sandbox.iam.requests)."""

from __future__ import annotations

from sandbox.iam.requests import Access, Where, accesses

WHERE = Where("aws", "us-east-1", "123456789012")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/history"


def test_a_transaction_needs_each_items_own_action_on_its_table() -> None:
    items = [
        {"Put": {"TableName": "history", "Item": {}}},
        {"ConditionCheck": {"TableName": "history", "Key": {}, "ConditionExpression": "x"}},
        {"Update": {"TableName": "other", "Key": {}, "UpdateExpression": "y"}},
    ]

    needed = accesses("dynamodb", "TransactWriteItems", {"TransactItems": items}, WHERE)

    assert [(access.action, access.resource) for access in needed] == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
        ("dynamodb:UpdateItem", TABLE.replace("history", "other")),
    ]


def test_a_query_of_an_index_is_authorized_on_the_index() -> None:
    [query] = accesses("dynamodb", "Query", {"TableName": TABLE, "IndexName": "byTime"}, WHERE)

    assert query.resource == f"{TABLE}/index/byTime"


def test_a_message_is_authorized_on_the_queue_its_url_names_and_needs_its_key() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/failures"

    [send] = accesses("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "x"}, WHERE)

    assert send == Access(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:123456789012:failures",
        "queue",
        key_actions=("kms:GenerateDataKey", "kms:Decrypt"),
    )


def test_put_metric_data_carries_its_namespace_as_the_condition_key() -> None:
    [put] = accesses(
        "cloudwatch", "PutMetricData", {"Namespace": "IoTAuditRemediator", "MetricData": []}, WHERE
    )

    assert (put.action, put.resource, dict(put.context)) == (
        "cloudwatch:PutMetricData",
        "*",
        {"cloudwatch:namespace": "IoTAuditRemediator"},
    )


def test_a_call_the_table_does_not_know_is_asked_on_every_resource_under_its_iam_prefix() -> None:
    [unknown] = accesses("stepfunctions", "DescribeStateMachine", {"stateMachineArn": "arn:x"}, WHERE)

    assert (unknown.action, unknown.resource) == ("states:DescribeStateMachine", "*")
