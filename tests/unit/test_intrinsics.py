"""CloudFormation's intrinsic functions as the one resolver evaluates them, for the deployer (physical ids)
and the template policy tests (symbolic names) alike. Source: the CloudFormation User Guide, "Intrinsic
function reference" (Fn::Sub's `${!Literal}`, `AWS::NoValue` removing a property or list item)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.intrinsics import PseudoParameters, Resolver
from tests.unit.template.stack import Stack

PSEUDO = PseudoParameters(account_id="111122223333", region="eu-west-1", stack_name="s", stack_id="id")


class Named:
    """Ref and Fn::GetAtt of a resource as <logical id> and <logical id>/<attribute>."""

    def ref(self, logical_id: str) -> Any:
        return f"ref:{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{logical_id}/{attribute}"


def resolver(**template: Any) -> Resolver:
    return Resolver(template, parameters={"Stage": "prod", "Flag": True}, pseudo=PSEUDO, resources=Named())


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            {"Fn::Sub": "${AWS::Region}:${Stage}:${Queue}:${Queue.Arn}:${!Literal}"},
            "eu-west-1:prod:ref:Queue:Queue/Arn:${Literal}",
        ),
        ({"Fn::Sub": ["${Name}-${AWS::AccountId}", {"Name": {"Ref": "Topic"}}]}, "ref:Topic-111122223333"),
        ({"Fn::Join": ["/", ["a", {"Ref": "Flag"}, {"Fn::GetAtt": ["Role", "Arn"]}]]}, "a/true/Role/Arn"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::GetAtt": "Queue.QueueName"}, "Queue/QueueName"),
    ],
)
def test_each_intrinsic_resolves_through_the_callers_resource_strategy(
    expression: Any, expected: Any
) -> None:
    conditions = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}

    assert resolver(Conditions=conditions).resolve(expression) == expected


def test_no_value_removes_the_key_and_the_list_item_it_stands_for() -> None:
    value = {"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}, "List": ["a", {"Ref": "AWS::NoValue"}]}

    assert resolver().resolve(value) == {"Keep": 1, "List": ["a"]}


def test_an_intrinsic_the_resolver_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(DeployError, match="Fn::Cidr"):
        resolver().resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})


def test_the_policy_stack_refuses_an_intrinsic_it_cannot_evaluate_instead_of_reading_it_as_data() -> None:
    written = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}},
            }
        }
    }
    stack = Stack(written)

    with pytest.raises(DeployError, match="Fn::Cidr"):
        stack.properties("Queue")


def test_the_policy_stack_writes_booleans_into_strings_as_cloudformation_does() -> None:
    written = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": {"Fn::Join": ["-", ["q", True]]}},
            }
        }
    }

    assert Stack(written).ref("Queue").endswith("/q-true")
