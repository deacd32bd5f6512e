"""JSONata in moto's interpreter through the sandbox's evaluator, and Wait states on sandbox time."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.integration.sandbox.conftest import Workflows, jsonata


def test_expressions_see_input_context_and_assigned_variables(workflows: Workflows) -> None:
    # Given a Pass that computes from $states.input and assigns a variable read two states later
    definition = jsonata(
        {
            "Compute": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.values) %}"},
                "Output": {
                    "doubled": "{% $map($states.input.values, function($v) { $v * 2 }) %}",
                    "execution": "{% $states.context.Execution.Name %}",
                },
                "Next": "Forget",
            },
            "Forget": {"Type": "Pass", "Output": {}, "Next": "Report"},
            "Report": {
                "Type": "Pass",
                "Output": {"total": "{% $total %}", "previous": "{% $states.input %}"},
                "End": True,
            },
        }
    )

    # When it runs
    result = workflows.run(definition, {"values": [1, 2, 3.5]})

    # Then every expression saw what Step Functions binds
    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json == {"total": 6.5, "previous": {}}
    entered = [e for e in result.history if e["type"] == "PassStateExited"]
    first = entered[0]["stateExitedEventDetails"]["output"]
    assert '"doubled":[2,4,7]' in first
    assert '"execution":"' in first


@pytest.mark.parametrize(
    "text",
    [
        'quote " inside',
        "back\\slash",
        "new\nline",
        "unicode \u00e9\u4e2d \U0001f600",
        "{% not an expression %}",
    ],
)
def test_strings_survive_the_trip_through_bindings(workflows: Workflows, text: str) -> None:
    # Given strings that break naive splicing into the expression text
    definition = jsonata(
        {
            "Keep": {"Type": "Pass", "Assign": {"kept": "{% $states.input.text %}"}, "Next": "Echo"},
            "Echo": {
                "Type": "Pass",
                "Output": {"fromInput": "{% $states.input.text %}", "fromVariable": "{% $kept %}"},
                "End": True,
            },
        }
    )

    # When they go through $states and a variable
    result = workflows.run(definition, {"text": text})

    # Then they come back unchanged
    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json == {"fromInput": text, "fromVariable": text}


def test_step_functions_functions(workflows: Workflows) -> None:
    definition = jsonata(
        {
            "Functions": {
                "Type": "Pass",
                "Output": {
                    "uuid": "{% $uuid() %}",
                    "hash": "{% $hash('audit', 'SHA-256') %}",
                    "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}",
                    "range": "{% $range(0, 10, 5) %}",
                    "parsed": "{% $parse('{\"a\": [1]}') %}",
                },
                "End": True,
            }
        }
    )

    result = workflows.run(definition)

    assert result.status == "SUCCEEDED", result.get("cause")
    output = result.output_json
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", output["uuid"]
    )
    assert output["hash"] == hashlib.sha256(b"audit").hexdigest()
    assert output["partition"] == [[1, 2], [3, 4], [5]]
    assert output["range"] == [0, 5, 10]
    assert output["parsed"] == {"a": [1]}


def test_choice_and_map_with_jsonata(workflows: Workflows) -> None:
    definition = jsonata(
        {
            "EachTask": {
                "Type": "Map",
                "Items": "{% $states.input.tasks %}",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Big?",
                    "States": {
                        "Big?": {
                            "Type": "Choice",
                            "Choices": [{"Condition": "{% $states.input.size > 25 %}", "Next": "Capped"}],
                            "Default": "Started",
                        },
                        "Capped": {
                            "Type": "Pass",
                            "Output": "{% $states.input.id & ':capped' %}",
                            "End": True,
                        },
                        "Started": {
                            "Type": "Pass",
                            "Output": "{% $states.input.id & ':started' %}",
                            "End": True,
                        },
                    },
                },
                "End": True,
            }
        }
    )

    result = workflows.run(
        definition, {"tasks": [{"id": "a", "size": 3}, {"id": "b", "size": 40}, {"id": "c", "size": 25}]}
    )

    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json == ["a:started", "b:capped", "c:started"]


def test_an_evaluation_error_is_states_query_evaluation_error_and_can_be_caught(workflows: Workflows) -> None:
    # Given a task whose Arguments fail to evaluate ($number of a non-numeric string), with and without Catch
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:iot:listThingGroups",
        "Arguments": {"MaxResults": "{% $number($states.input.text) %}"},
        "End": True,
    }
    catch = [
        {
            "ErrorEquals": ["States.QueryEvaluationError"],
            "Next": "Caught",
            "Output": "{% $states.errorOutput %}",
        }
    ]
    caught = jsonata({"List": {**task, "Catch": catch}, "Caught": {"Type": "Pass", "End": True}})
    uncaught = jsonata({"List": task})

    # When they run
    caught_result = workflows.run(caught, {"text": "twelve"})
    uncaught_result = workflows.run(uncaught, {"text": "twelve"})

    # Then the error is Step Functions' States.QueryEvaluationError, which Catch handles
    assert caught_result.status == "SUCCEEDED", caught_result.get("cause")
    assert caught_result.output_json["Error"] == "States.QueryEvaluationError"
    assert "$number" in caught_result.output_json["Cause"]
    assert uncaught_result.status == "FAILED"
    assert uncaught_result["error"] == "States.QueryEvaluationError"


def test_the_binding_store_keeps_what_is_read_and_evicts_the_oldest() -> None:
    from sandbox.stepfunctions.expressions import JsonataEvaluationError, _BindingStore

    store = _BindingStore(max_bytes=30)
    variable = store.put('{"assigned": 1}')
    once = store.put('{"state": 1}')
    store.get(variable)

    store.put('{"state": 2}')

    assert store.get(variable) == {"assigned": 1}
    with pytest.raises(JsonataEvaluationError, match="evicted"):
        store.get(once)


def test_assign_and_output_of_a_state_both_see_the_variables_as_they_were_on_entry(
    workflows: Workflows,
) -> None:
    # Given a state that resets a list it also reports, and appends to it from the same old value
    definition = jsonata(
        {
            "Start": {"Type": "Pass", "Assign": {"ids": ["a", "b"], "count": 1}, "Next": "Drain"},
            "Drain": {
                "Type": "Pass",
                "Assign": {"ids": [], "count": "{% $count + 1 %}", "previous": "{% $count %}"},
                "Output": {"drained": "{% $ids %}", "count": "{% $count %}"},
                "Next": "After",
            },
            "After": {
                "Type": "Pass",
                "Output": {
                    "ids": "{% $ids %}",
                    "count": "{% $count %}",
                    "previous": "{% $previous %}",
                    "input": "{% $states.input %}",
                },
                "End": True,
            },
        }
    )

    result = workflows.run(definition)

    # Then the Output used the values from before the state's Assign, which took effect afterwards
    assert result.status == "SUCCEEDED", result.get("cause")
    assert result.output_json == {
        "ids": [],
        "count": 2,
        "previous": 1,
        "input": {"drained": ["a", "b"], "count": 1},
    }
    exited = [e for e in result.history if e["type"] == "PassStateExited"]
    assert set(exited[1]["stateExitedEventDetails"]["assignedVariables"]) == {"ids", "count", "previous"}
