"""The product's way to a stack: CloudFormation DescribeStacks (moto's CloudFormation, since the
sandbox's deployer does not register its stacks there)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from remediator_cli.app import app
from remediator_cli.stack import AwsAccount

TEMPLATE = {
    "Resources": {
        "Switch": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/ops/kill-switch", "Type": "String", "Value": "released"},
        }
    },
    "Outputs": {"KillSwitchParameterName": {"Value": {"Ref": "Switch"}}},
}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsAccount]:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="ops", TemplateBody=json.dumps(TEMPLATE)
        )
        yield AwsAccount()


def test_the_stack_is_found_by_name_in_aws_region_and_its_outputs_used(account: AwsAccount) -> None:
    # When the operator pauses the stack found by name
    result = CliRunner().invoke(app, ["pause", "--stack", "ops", "--json"], obj=account)

    # Then the parameter its output names is pulled
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parameter"] == "/ops/kill-switch"
    ssm = boto3.client("ssm", region_name="eu-west-1")
    assert ssm.get_parameter(Name="/ops/kill-switch")["Parameter"]["Value"] == "pulled"


def test_no_stack_of_that_name_is_one_line_naming_the_region(account: AwsAccount) -> None:
    result = CliRunner().invoke(app, ["status", "--stack", "opps"], obj=account)

    assert result.exit_code == 4
    assert result.stderr == "no stack named opps in eu-west-1 (check --stack and AWS_REGION)\n"
