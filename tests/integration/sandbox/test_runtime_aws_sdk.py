"""aws-sdk:* tasks: PascalCase <-> API member names both ways, and `<Service>.<Code>` error names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox import Sandbox
from tests.integration.sandbox.conftest import Workflows, failed_events, jsonata

ROLE_ARN = "arn:aws:iam::123456789012:role/mitigation"


def task(action: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:states:::aws-sdk:iot:{action}",
        "Arguments": arguments,
        **extra,
    }


def test_requests_use_api_member_names_and_responses_come_back_in_pascal_case(
    sb: Sandbox, workflows: Workflows
) -> None:
    # Given a group created and described through aws-sdk:iot, with attribute keys in mixed case
    definition = jsonata(
        {
            "Create": task(
                "createThingGroup",
                {
                    "ThingGroupName": "quarantine",
                    "ThingGroupProperties": {
                        "ThingGroupDescription": "{% $states.input.description %}",
                        "AttributePayload": {"Attributes": {"lowerCase": "kept", "UPPER_CASE": "kept too"}},
                    },
                    "Tags": [{"Key": "team", "Value": "iot"}],
                },
                Next="Describe",
            ),
            "Describe": task(
                "describeThingGroup", {"ThingGroupName": "{% $states.input.ThingGroupName %}"}, End=True
            ),
        }
    )

    # When it runs
    result = workflows.run(definition, {"description": "deny all"})

    # Then the API got its own member names (moto created the group as asked) ...
    assert result.status == "SUCCEEDED", result.get("cause")
    group = sb.client("iot").describe_thing_group(thingGroupName="quarantine")
    assert group["thingGroupProperties"]["thingGroupDescription"] == "deny all"
    # ... and the result is PascalCase at every level, except map keys, which are data
    output = result.output_json
    assert output["ThingGroupName"] == "quarantine"
    assert output["ThingGroupProperties"]["ThingGroupDescription"] == "deny all"
    assert output["ThingGroupProperties"]["AttributePayload"]["Attributes"] == {
        "lowerCase": "kept",
        "UPPER_CASE": "kept too",
    }
    assert "CreationDate" in output["ThingGroupMetadata"]
    assert isinstance(output["ThingGroupMetadata"]["CreationDate"], str)
    assert output["ThingGroupMetadata"]["CreationDate"].endswith("Z")
    assert not any(key[0].islower() for key in output)


def test_emulated_device_defender_calls_get_camel_case_members_and_map_keys_unchanged(
    sb: Sandbox, workflows: Workflows
) -> None:
    # Given a mitigation action in the emulator
    assert sb.emulator is not None
    sb.client("iot").create_mitigation_action(
        actionName="publish",
        roleArn=ROLE_ARN,
        actionParams={"publishFindingToSnsParams": {"topicArn": "arn:aws:sns:us-east-1:123456789012:t"}},
    )
    definition = jsonata(
        {
            "Describe": task("describeMitigationAction", {"ActionName": "publish"}, End=True),
        }
    )

    # When a workflow reads it
    result = workflows.run(definition)

    # Then the request reached the emulator with its member name, and the nested answer is PascalCase
    assert result.status == "SUCCEEDED", result.get("cause")
    [call] = sb.calls.of("iot", "DescribeMitigationAction")
    assert call.params == {"actionName": "publish"}
    assert result.output_json["ActionParams"] == {
        "PublishFindingToSnsParams": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}
    }
    assert result.output_json["ActionType"] == "PUBLISH_FINDING_TO_SNS"


def test_map_members_keep_their_keys_in_requests(sb: Sandbox, workflows: Workflows) -> None:
    # Given a StartAuditMitigationActionsTask whose maps are keyed by check names
    definition = jsonata(
        {
            "Start": task(
                "startAuditMitigationActionsTask",
                {
                    "TaskId": "task-1",
                    "Target": {
                        "AuditCheckToReasonCodeFilter": {"LOGGING_DISABLED_CHECK": ["LOGGING_DISABLED"]},
                        "AuditTaskId": "a1",
                    },
                    "AuditCheckToActionsMapping": {"LOGGING_DISABLED_CHECK": ["enable-logging"]},
                    "ClientRequestToken": "token-1",
                },
                Catch=[
                    {"ErrorEquals": ["States.ALL"], "Next": "Stop", "Output": "{% $states.errorOutput %}"}
                ],
                End=True,
            ),
            "Stop": {"Type": "Pass", "End": True},
        }
    )

    # When it runs (the emulator knows neither the audit nor the action, so it answers with an error)
    workflows.run(definition)

    # Then the request carried API member names outside the maps and check names inside them
    [call] = sb.calls.of("iot", "StartAuditMitigationActionsTask")
    assert call.params == {
        "taskId": "task-1",
        "target": {
            "auditCheckToReasonCodeFilter": {"LOGGING_DISABLED_CHECK": ["LOGGING_DISABLED"]},
            "auditTaskId": "a1",
        },
        "auditCheckToActionsMapping": {"LOGGING_DISABLED_CHECK": ["enable-logging"]},
        "clientRequestToken": "token-1",
    }


def test_an_unknown_parameter_fails_the_task_naming_it(workflows: Workflows) -> None:
    definition = jsonata(
        {"Describe": task("describeThingGroup", {"ThingGroupName": "g", "Verbose": True}, End=True)}
    )

    result = workflows.run(definition)

    assert result.status == "FAILED"
    assert result["error"] == "States.Runtime"
    assert "Verbose" in result["cause"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ThrottlingException", 400),
        ("LimitExceededException", 410),
        ("InternalFailureException", 500),
        ("TaskAlreadyExistsException", 400),
        ("InvalidRequestException", 400),
    ],
)
def test_errors_are_named_iot_dot_code_with_the_real_status(
    sb: Sandbox, workflows: Workflows, error: str, status: int
) -> None:
    # Given an injected service error on the IoT call
    sb.faults.add("iot", "ListThingGroups", error=error)
    definition = jsonata({"List": task("listThingGroups", {}, End=True)})

    # When the task runs
    result = workflows.run(definition)

    # Then Step Functions' error name is Iot.<Code> and the cause carries the HTTP status
    assert result.status == "FAILED"
    assert result["error"] == f"Iot.{error}"
    [failure] = failed_events(result)
    assert f"Status Code: {status}" in failure["taskFailedEventDetails"]["cause"]
    assert "Service: Iot" in failure["taskFailedEventDetails"]["cause"]


def test_retry_on_iot_throttling_and_410_then_success(sb: Sandbox, workflows: Workflows) -> None:
    # Given two throttles and one 410 before the call goes through, and a Retry on both names
    sb.faults.add("iot", "ListThingGroups", error="ThrottlingException", times=2)
    sb.faults.add("iot", "ListThingGroups", error="LimitExceededException", times=1)
    retry = [
        {
            "ErrorEquals": ["Iot.ThrottlingException", "Iot.LimitExceededException"],
            "IntervalSeconds": 2,
            "BackoffRate": 2,
            "MaxAttempts": 5,
            "JitterStrategy": "FULL",
        }
    ]
    definition = jsonata({"List": task("listThingGroups", {}, Retry=retry, End=True)})

    # When it runs
    result = workflows.run(definition)

    # Then it succeeded on the fourth attempt, each attempt one API call (no SDK retries under Step Functions)
    assert result.status == "SUCCEEDED", result.get("cause")
    outcomes = [call.outcome for call in sb.calls.of("iot", "ListThingGroups")]
    assert outcomes == ["ThrottlingException", "ThrottlingException", "LimitExceededException", "ok"]


def test_task_already_exists_is_caught_not_retried(sb: Sandbox, workflows: Workflows) -> None:
    sb.faults.add("iot", "ListThingGroups", error="TaskAlreadyExistsException", times=None)
    retry = [{"ErrorEquals": ["Iot.ThrottlingException"], "MaxAttempts": 3}]
    catch = [
        {
            "ErrorEquals": ["Iot.TaskAlreadyExistsException"],
            "Next": "Compare",
            "Output": "{% $states.errorOutput %}",
        }
    ]
    definition = jsonata(
        {
            "List": task("listThingGroups", {}, Retry=retry, Catch=catch, End=True),
            "Compare": {"Type": "Pass", "End": True},
        }
    )

    result = workflows.run(definition)

    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json["Error"] == "Iot.TaskAlreadyExistsException"
    assert sb.calls.count("iot", "ListThingGroups") == 1
    assert json.loads(json.dumps(result.output_json))["Cause"].startswith("Injected by the sandbox")
