"""DynamoDB tables, with their time to live and point-in-time recovery."""

from __future__ import annotations

from typing import Any

from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import cfn_to_api


def dynamodb_table(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("TableName") or d.physical_name(logical_id)
    if "SSESpecification" in p:
        sse = dict(p["SSESpecification"])
        if "SSEEnabled" in sse:
            sse["Enabled"] = sse.pop("SSEEnabled")
        p["SSESpecification"] = sse
    if "BillingMode" not in p and "ProvisionedThroughput" not in p:
        p["BillingMode"] = "PROVISIONED"
        p["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    request = cfn_to_api(
        {**p, "TableName": name},
        "dynamodb",
        "CreateTable",
        drop=(
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "ContributorInsightsSpecification",
            "KinesisStreamSpecification",
            "ImportSourceSpecification",
            "ResourcePolicy",
        ),
    )
    dynamodb = d.client("dynamodb")
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and text(ttl.get("Enabled", "false")) == "true":
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    recovery = p.get("PointInTimeRecoverySpecification")
    if recovery and text(recovery.get("PointInTimeRecoveryEnabled", "false")) == "true":
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return Created(name, attributes)


def delete_dynamodb_table(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("dynamodb").delete_table(TableName=created.physical_id)
