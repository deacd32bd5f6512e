"""DynamoDB applies each write to an item atomically: "Individual write operations such as UpdateItem are
atomic and always operate on the most recent version of the item, regardless of concurrency" (DynamoDB
developer guide, "Best practices for handling concurrent updates"). The workflow's mitigation task slots
rest on it: a conditional UpdateItem adds a holder only while the set is below the limit."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from sandbox import Sandbox

THREADS, ROUNDS = 16, 20


def test_concurrent_conditional_updates_of_one_item_admit_exactly_one_holder() -> None:
    with Sandbox(emulator=False, enforce_iam=False) as sb:
        client = sb.client("dynamodb")
        client.create_table(
            TableName="slots",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        admitted: list[int] = []
        refusals: list[str] = []
        for round_ in range(ROUNDS):
            key = {"pk": {"S": f"SLOTS#{round_}"}}
            start = threading.Barrier(THREADS)

            def take(
                holder: int, key: dict[str, dict[str, str]] = key, start: threading.Barrier = start
            ) -> None:
                start.wait()
                try:
                    client.update_item(
                        TableName="slots",
                        Key=key,
                        UpdateExpression="ADD holders :holder",
                        ConditionExpression="attribute_not_exists(holders) OR size(holders) < :limit",
                        ExpressionAttributeValues={":holder": {"SS": [str(holder)]}, ":limit": {"N": "1"}},
                    )
                except ClientError as error:
                    refusals.append(error.response["Error"]["Code"])

            threads = [threading.Thread(target=take, args=(holder,)) for holder in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            item = client.get_item(TableName="slots", Key=key, ConsistentRead=True)["Item"]
            admitted.append(len(item["holders"]["SS"]))
        assert admitted == [1] * ROUNDS
        assert refusals == ["ConditionalCheckFailedException"] * (THREADS - 1) * ROUNDS
