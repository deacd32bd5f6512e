"""Names built from the stack name meet the services' length limits (botocore's models) at deploy time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sandbox import DeployError, Sandbox
from sandbox.deployer import PhysicalNameTooLongError
from tests.conftest import ROOT

NAMED_FROM_THE_STACK = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Group:
    Type: AWS::IoT::ThingGroup
    Properties:
      ThingGroupName: !Sub "${AWS::StackName}-quarantine"
  Schedule:
    Type: AWS::Scheduler::Schedule
    DependsOn: Group
    Properties:
      Name: !Sub "${AWS::StackName}-quarantine-policy"
      ScheduleExpression: rate(5 minutes)
      FlexibleTimeWindow: {Mode: "OFF"}
      State: DISABLED
      Target:
        Arn: !Sub "arn:${AWS::Partition}:scheduler:::aws-sdk:iot:listThingGroups"
        RoleArn: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/scheduler"
"""


def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(NAMED_FROM_THE_STACK))
    return path


def test_a_stack_name_that_fits_every_derived_name_deploys(sb: Sandbox, tmp_path: Path) -> None:
    # 46 + len("-quarantine-policy") = 64, EventBridge Scheduler's limit
    stack = sb.deploy(template(tmp_path), stack_name="s" * 46)
    assert stack["Schedule"] == "s" * 46 + "-quarantine-policy"


def test_a_stack_name_too_long_for_a_derived_name_is_refused_with_the_budget(
    sb: Sandbox, tmp_path: Path
) -> None:
    # Given a stack name one character longer than the schedule name allows
    with pytest.raises(PhysicalNameTooLongError) as refused:
        sb.deploy(template(tmp_path), stack_name="s" * 47)
    # Then the error names the resource, the service's limit and the longest stack name that fits
    message = str(refused.value)
    assert "Schedule (AWS::Scheduler::Schedule)" in message
    assert "is 65 characters; scheduler CreateSchedule accepts at most 64" in message
    assert "use a stack name of at most 46 characters" in message


def test_the_project_template_refuses_a_stack_name_it_cannot_hold(sb: Sandbox) -> None:
    with pytest.raises(PhysicalNameTooLongError, match="use a stack name of at most"):
        sb.deploy(ROOT / "template.yaml", stack_name="iot-audit-remediator-" + "x" * 40)


@pytest.mark.parametrize("stack_name", ["9lives", "has_underscore", "x" * 129])
def test_stack_names_follow_cloudformations_rules(sb: Sandbox, tmp_path: Path, stack_name: str) -> None:
    with pytest.raises(DeployError, match="starting with a letter, at most 128 characters"):
        sb.deploy(template(tmp_path), stack_name=stack_name)
