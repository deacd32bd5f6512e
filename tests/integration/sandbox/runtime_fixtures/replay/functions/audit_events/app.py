"""Stub AuditEventsFunction: decides from the message alone, starts one execution, prints noise."""

import json
import os
from typing import Any

import boto3


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print("stub handler noise on stdout")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    if message.get("raise"):
        raise RuntimeError(message["raise"])
    document: dict[str, Any] = {
        "decision": "rejected" if message.get("reject") else "remediate",
        "kind": "audit",
        "reason": os.environ["REMEDIATION_MODE"],
        "rulesVersion": None,
        "execution": None,
        "mitigationTasks": [],
        "skipped": {},
    }
    if document["decision"] == "remediate":
        name = f"audit-{message['taskId']}"
        execution_input = {"fail": bool(message.get("fail"))}
        if "report" in message:
            execution_input["report"] = message["report"]
        boto3.client("stepfunctions").start_execution(
            stateMachineArn=os.environ["STATE_MACHINE_ARN"], name=name, input=json.dumps(execution_input)
        )
        document["execution"] = {"name": name, "input": execution_input}
    return document
