"""EventBridge rules and EventBridge Scheduler schedules (each enabled schedule fires once after the deploy)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
import botocore

from sandbox.cloudformation.errors import DeployError
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, cfn_to_api
from sandbox.stepfunctions import operation_model, to_api_members


def events_rule(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("Name") or d.physical_name(logical_id, max_length=64)
    events = d.client("events")
    request: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
    if "EventPattern" in p:
        request["EventPattern"] = attribute_text(p["EventPattern"])
    for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
        if key in p:
            request[key] = p[key]
    arn = events.put_rule(**request)["RuleArn"]
    targets = cfn_to_api({"Targets": p.get("Targets", [])}, "events", "PutTargets")["Targets"]
    if targets:
        target_request: dict[str, Any] = {"Rule": name, "Targets": targets}
        if "EventBusName" in p:
            target_request["EventBusName"] = p["EventBusName"]
        events.put_targets(**target_request)
    return Created(name, {"Arn": arn})


def scheduler_schedule(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("Name") or d.physical_name(logical_id, max_length=64)
    request = cfn_to_api({**p, "Name": name}, "scheduler", "CreateSchedule")
    arn = d.client("scheduler").create_schedule(**request)["ScheduleArn"]
    if p.get("State", "ENABLED") == "ENABLED":
        d.after_deploy.append(lambda: run_schedule_target(d.region, p["Target"]))
    return Created(name, {"Arn": arn})


def run_schedule_target(region: str, target: Mapping[str, Any]) -> Any:
    """One firing of an EventBridge Scheduler target (universal aws-sdk targets, Lambda, SQS, SNS,
    Step Functions); the deployer fires each enabled schedule once, as its first run would."""
    arn = str(target["Arn"])
    payload = target.get("Input", "{}")
    parts = arn.split(":")
    if parts[2] == "scheduler" and parts[5].startswith("aws-sdk"):
        _, service, action = parts[5], parts[6], parts[7]
        operation = operation_model(service, action)
        params = to_api_members(json.loads(payload), operation.input_shape)
        client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        return getattr(client, botocore.xform_name(operation.name))(**params)
    if parts[2] == "lambda":
        return boto3.client("lambda", region_name=region).invoke(
            FunctionName=arn, InvocationType="Event", Payload=payload.encode()
        )
    if parts[2] == "sqs":
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return sqs.send_message(QueueUrl=url, MessageBody=payload)
    if parts[2] == "sns":
        return boto3.client("sns", region_name=region).publish(TopicArn=arn, Message=payload)
    if parts[2] == "states":
        return boto3.client("stepfunctions", region_name=region).start_execution(
            stateMachineArn=arn, input=payload
        )
    raise DeployError(f"schedule target {arn} is not supported by the sandbox")


def delete_events_rule(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    events = d.client("events")
    bus = {"EventBusName": p["EventBusName"]} if "EventBusName" in p else {}
    target_ids = [target["Id"] for target in p.get("Targets", [])]
    if target_ids:
        events.remove_targets(Rule=created.physical_id, Ids=target_ids, **bus)
    events.delete_rule(Name=created.physical_id, **bus)
