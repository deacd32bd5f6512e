"""Stack names are checked against the names built from them before anything is deployed."""

import re

import pytest

from sandbox.name_limits import max_length
from tools import stack_names


@pytest.mark.parametrize(
    ("resource_type", "limit"),
    [
        (
            "AWS::Lambda::Function",
            64,
        ),  # the member's documentation: "limited to 64 characters" (max 140 is the ARN)
        ("AWS::Scheduler::Schedule", 64),
        ("AWS::SQS::Queue", 80),  # no max in the shape; the documentation: "up to 80 characters"
        ("AWS::StepFunctions::StateMachine", 80),
        ("AWS::IoT::MitigationAction", 128),
        ("AWS::IoT::ThingGroup", 128),
        ("AWS::IoT::Policy", 128),
        ("AWS::DynamoDB::Table", 255),
    ],
)
def test_name_limits_come_from_the_botocore_models(resource_type: str, limit: int) -> None:
    assert max_length(resource_type) == limit


def test_the_stack_names_the_project_deploys_fit(capsys: pytest.CaptureFixture[str]) -> None:
    assert stack_names.main([]) == 0
    assert "stack names fit template.yaml" in capsys.readouterr().out


def test_a_stack_name_too_long_for_the_template_is_refused_with_the_longest_that_fits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = stack_names.derived_names(stack_names.translate(stack_names.load()))
    budget = min(name.budget for name in names)
    assert stack_names.main(["--stack-name", "x" * (budget + 1)]) == 1
    assert f"template.yaml holds at most {budget}:" in capsys.readouterr().err
    assert stack_names.main(["--stack-name", "x" * budget]) == 0


def test_every_derived_name_is_seen() -> None:
    names = {name.logical_id for name in stack_names.derived_names(stack_names.translate(stack_names.load()))}
    # the names the stack's role policies rebuild with !Sub (the comment at the top of Resources)
    assert {
        "AuditEventsFunction",
        "AuditEventsFailureQueue",
        "RemediationReportsDeliveryDLQ",
        "IdempotencyTable",
    } <= names


def test_the_readme_states_the_longest_stack_name_the_template_holds() -> None:
    names = stack_names.derived_names(stack_names.translate(stack_names.load()))
    readme = (stack_names.TEMPLATE.parent / "README.md").read_text()
    stated = re.search(r"a stack\s+name may have at most \*\*(\d+) characters\*\*", readme)
    assert stated is not None, "the README's Deploy section no longer states the stack name limit"
    assert int(stated.group(1)) == min(name.budget for name in names)
