"""The deployer's CloudFormation semantics on small templates: intrinsics, conditions, parameters,
ordering, and clear errors for what it cannot do."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path

import pytest

from sandbox import DeployError, Sandbox, UnsupportedResourceTypeError
from tests.integration.sandbox.conftest import RUNTIME_TEMPLATE


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


INTRINSICS = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage:
    Type: String
    Default: test
    AllowedValues: [test, prod]
  Names:
    Type: CommaDelimitedList
    Default: "alpha,beta"
  Size:
    Type: Number
    Default: 3
    MinValue: 1
    MaxValue: 10
Mappings:
  Retention:
    test: {Days: "1"}
    prod: {Days: "14"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsTest: !Not [!Condition IsProd]
  Either: !Or [!Condition IsProd, !Condition IsTest]
  Both: !And [!Condition IsProd, !Condition IsTest]
Resources:
  Dead:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-${Stage}-work"
      DelaySeconds: !If [IsProd, 5, !Ref AWS::NoValue]
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dead.Arn
        maxReceiveCount: !Ref Size
  OnlyInProd:
    Type: AWS::SNS::Topic
    Condition: IsProd
Outputs:
  Sub:
    Value: !Sub
      - "${AWS::AccountId}:${AWS::Region}:${Work.QueueName}:${Extra}:${!NotReplaced}"
      - Extra: !Select [1, !Ref Names]
  Join:
    Value: !Join ["/", [!Ref Stage, !Select [0, !Split [",", "x,y"]], !FindInMap [Retention, !Ref Stage, Days]]]
  Base64:
    Value: !Base64 "hello"
  Conditions:
    Value: !Join [",", [!If [Either, "either", "neither"], !If [Both, "both", "not-both"]]]
  ProdOnly:
    Condition: IsProd
    Value: !Ref OnlyInProd
  Zone:
    Value: !Select [0, !GetAZs ""]
"""


def test_intrinsic_functions_conditions_and_parameters(sb: Sandbox, tmp_path: Path) -> None:
    stack = sb.deploy(write(tmp_path, INTRINSICS), stack_name="intrinsics")

    assert stack.outputs == {
        "Sub": "123456789012:us-east-1:intrinsics-test-work:beta:${NotReplaced}",
        "Join": "test/x/1",
        "Base64": base64.b64encode(b"hello").decode(),
        "Conditions": "either,not-both",
        "Zone": "us-east-1a",
    }
    assert "OnlyInProd" not in stack.physical_ids
    attributes = sb.client("sqs").get_queue_attributes(QueueUrl=stack["Work"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert "DelaySeconds" not in attributes or attributes["DelaySeconds"] == "0"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.get_att("Dead", "Arn"),
        "maxReceiveCount": 3,
    }
    assert stack.parameters == {"Stage": "test", "Names": ["alpha", "beta"], "Size": "3"}


def test_a_parameter_switches_conditions(sb: Sandbox, tmp_path: Path) -> None:
    stack = sb.deploy(write(tmp_path, INTRINSICS), parameters={"Stage": "prod"}, stack_name="intrinsics")

    assert stack.outputs["ProdOnly"] == stack["OnlyInProd"]
    assert stack.outputs["Join"] == "prod/x/14"
    attributes = sb.client("sqs").get_queue_attributes(
        QueueUrl=stack["Work"], AttributeNames=["DelaySeconds"]
    )
    assert attributes["Attributes"]["DelaySeconds"] == "5"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Stage": "staging"}, "must be one of"),
        ({"Size": 11}, "MaxValue"),
        ({"Size": "three"}, "must be a number"),
        ({"Unknown": "x"}, "do not exist in the template"),
    ],
)
def test_invalid_parameters_are_refused(
    sb: Sandbox, tmp_path: Path, parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(DeployError, match=message):
        sb.deploy(write(tmp_path, INTRINSICS), parameters=parameters, stack_name="intrinsics")


def test_a_resource_type_without_a_handler_is_an_error_naming_it(sb: Sandbox, tmp_path: Path) -> None:
    template = write(
        tmp_path,
        """\
        Resources:
          Queue:
            Type: AWS::SQS::Queue
          Network:
            Type: AWS::EC2::VPC
            Properties:
              CidrBlock: 10.0.0.0/16
        """,
    )

    with pytest.raises(UnsupportedResourceTypeError, match=r"AWS::EC2::VPC \(Network\)"):
        sb.deploy(template, stack_name="unsupported")
    assert sb.client("sqs").list_queues().get("QueueUrls", []) == []


def test_dependencies_decide_the_order_and_cycles_are_refused(sb: Sandbox, tmp_path: Path) -> None:
    ordered = write(
        tmp_path,
        """\
        Resources:
          Subscription:
            Type: AWS::SNS::Subscription
            DependsOn: QueuePolicy
            Properties:
              TopicArn: !Ref Topic
              Protocol: sqs
              Endpoint: !GetAtt Queue.Arn
          QueuePolicy:
            Type: AWS::SQS::QueuePolicy
            Properties:
              Queues: [!Ref Queue]
              PolicyDocument: {Statement: [{Effect: Allow, Principal: "*", Action: "sqs:SendMessage", Resource: "*"}]}
          Topic:
            Type: AWS::SNS::Topic
          Queue:
            Type: AWS::SQS::Queue
        """,
    )
    stack = sb.deploy(ordered, stack_name="ordered")
    order = list(stack.resource_types)
    assert order.index("Queue") < order.index("QueuePolicy") < order.index("Subscription")
    assert order.index("Topic") < order.index("Subscription")

    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text(
        textwrap.dedent(
            """\
            Resources:
              A:
                Type: AWS::SQS::Queue
                Properties:
                  RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 1}
              B:
                Type: AWS::SQS::Queue
                Properties:
                  RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 1}
            """
        )
    )
    with pytest.raises(DeployError, match="circular dependency"):
        sb.deploy(cyclic, stack_name="cyclic")


def test_a_definition_placeholder_without_substitution_is_refused(sb: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "machine.asl.json").write_text(
        json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Missing}", "End": True}}})
    )
    template = write(
        tmp_path,
        """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Machine:
            Type: AWS::Serverless::StateMachine
            Properties:
              DefinitionUri: machine.asl.json
              DefinitionSubstitutions:
                Present: value
        """,
    )

    with pytest.raises(DeployError, match=r"\['Missing'\]"):
        sb.deploy(template, stack_name="placeholders")


def test_a_missing_code_uri_is_refused(sb: Sandbox, tmp_path: Path) -> None:
    template = write(
        tmp_path,
        """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Function:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: nowhere/
              Handler: app.handler
              Runtime: python3.12
        """,
    )

    with pytest.raises(DeployError, match="nowhere"):
        sb.deploy(template, stack_name="missing")


def test_a_stack_name_is_deployed_once_per_sandbox(sb: Sandbox) -> None:
    sb.deploy(RUNTIME_TEMPLATE, stack_name="runtime")

    with pytest.raises(DeployError, match="already deployed"):
        sb.deploy(RUNTIME_TEMPLATE, stack_name="runtime")
