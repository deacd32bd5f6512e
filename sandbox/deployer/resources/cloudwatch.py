"""CloudWatch Logs log groups and metric filters; CloudWatch alarms and dashboards."""

from __future__ import annotations

from typing import Any

from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, cfn_to_api, tags


def log_group(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("LogGroupName") or d.physical_name(logical_id, max_length=512)
    logs = d.client("logs")
    request: dict[str, Any] = {"logGroupName": name}
    if "KmsKeyId" in p:
        request["kmsKeyId"] = p["KmsKeyId"]
    tag_map = {tag["Key"]: tag["Value"] for tag in tags(p)}
    if tag_map:
        request["tags"] = tag_map
    logs.create_log_group(**request)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{d.region}:{d.account_id}:log-group:{name}:*"
    return Created(name, {"Arn": arn})


def metric_filter(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("FilterName") or d.physical_name(logical_id, max_length=512)
    d.client("logs").put_metric_filter(**cfn_to_api({**p, "FilterName": name}, "logs", "PutMetricFilter"))
    return Created(name)


def cloudwatch_alarm(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("AlarmName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_metric_alarm(
        **cfn_to_api({**p, "AlarmName": name}, "cloudwatch", "PutMetricAlarm")
    )
    return Created(name, {"Arn": f"arn:aws:cloudwatch:{d.region}:{d.account_id}:alarm:{name}"})


def cloudwatch_composite_alarm(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("AlarmName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_composite_alarm(
        **cfn_to_api({**p, "AlarmName": name}, "cloudwatch", "PutCompositeAlarm")
    )
    return Created(name, {"Arn": f"arn:aws:cloudwatch:{d.region}:{d.account_id}:alarm:{name}"})


def cloudwatch_dashboard(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("DashboardName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=attribute_text(p["DashboardBody"]))
    return Created(name)


def delete_log_group(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("logs").delete_log_group(logGroupName=created.physical_id)


def delete_alarm(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("cloudwatch").delete_alarms(AlarmNames=[created.physical_id])


def delete_dashboard(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("cloudwatch").delete_dashboards(DashboardNames=[created.physical_id])
