"""A rule naming a mitigation action the deployed stack does not define fails closed at load.

The stack is template.yaml without one of its AWS::IoT::MitigationAction resources (and so without
its name in MITIGATION_ACTION_NAMES). Nothing may start: the invocation raises RulesError, Lambda
retries it, and the event waits in the on-failure queue until the stack or the rules are fixed.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from sandbox import Sandbox, Stack
from sandbox.replay import TIME_SCALE
from tests.conftest import ROOT, load_event

MISSING = "PublishFindingToReportsAction"


def template_without(tmp_path: Path, logical_id: str) -> Path:
    template: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
    del template["Resources"][logical_id]
    for function in ("AuditEventsFunction", "PreStartAnalysisFunction", "ReconcileFunction"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        separator, names = variables["MITIGATION_ACTION_NAMES"]["Fn::Join"]
        variables["MITIGATION_ACTION_NAMES"]["Fn::Join"] = [
            separator,
            [n for n in names if n != {"Ref": logical_id}],
        ]
    for local in ("functions", "layers", "statemachine"):
        (tmp_path / local).symlink_to(ROOT / local)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return path


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Sandbox, Stack]]:
    with Sandbox(time_scale=TIME_SCALE) as sb:
        stack = sb.deploy(template_without(tmp_path, MISSING), parameters={"RemediationMode": "Enforce"})
        yield sb, stack


def test_an_audit_waits_in_the_failure_queue_and_no_task_starts(deployed: tuple[Sandbox, Stack]) -> None:
    sb, stack = deployed

    sb.invoke_async("AuditEventsFunction", load_event("scheduled-non-compliant"))
    sb.settle()

    attempts = [(i.attempt, i.succeeded) for i in sb.lambdas.invocations]
    assert attempts == [(1, False), (2, False), (3, False)]
    [message] = sb.client("sqs").receive_message(
        QueueUrl=stack["AuditEventsFailureQueue"], MaxNumberOfMessages=10
    )["Messages"]
    response = json.loads(message["Body"])["responsePayload"]
    assert response["errorType"] == "RulesError"
    assert f"iot-audit-remediator-{MISSING} is not defined by the stack" in response["errorMessage"]
    assert "default" in response["errorMessage"]
    assert sb.calls.count("iot", "StartAuditMitigationActionsTask") == 0
    assert sb.calls.count("stepfunctions", "StartExecution") == 0
