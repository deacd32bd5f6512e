"""`make lint` lints the state machine as deployed: tools.inline_definition + cfn-lint catch a broken definition."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint

from tools.inline_definition import InlineError, inline_definitions
from tools.sam_template import load

ROOT = Path(__file__).resolve().parents[2]
Mutation = Callable[[dict[str, Any]], None]


def lint_copy(tmp_path: Path, mutate: Mutation | None = None) -> dict[str, Any]:
    """The lint copy of template.yaml, built from a copy of the project whose ASL `mutate` changed."""
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    asl_path = tmp_path / "statemachine" / "remediation.asl.json"
    asl = json.loads(asl_path.read_text(encoding="utf-8"))
    if mutate is not None:
        mutate(asl)
    asl_path.write_text(json.dumps(asl), encoding="utf-8")
    return inline_definitions(load(tmp_path / "template.yaml"), tmp_path)


def findings(template: dict[str, Any]) -> list[tuple[str, str]]:
    return [(match.rule.id, match.message) for match in lint(json.dumps(template), regions=["us-east-1"])]


def misspell_a_state_type(asl: dict[str, Any]) -> None:
    asl["States"]["Record summary"]["Type"] = "Tusk"


def misspell_a_field(asl: dict[str, Any]) -> None:
    wait = asl["States"]["Run mitigation tasks"]["ItemProcessor"]["States"]["Wait for mitigation task"]
    wait["Sekonds"] = wait.pop("Seconds")


def test_the_deployed_definition_passes_cfn_lint(tmp_path: Path) -> None:
    template = lint_copy(tmp_path)

    definition = template["Resources"]["RemediationStateMachine"]["Properties"]["Definition"]
    acquire = definition["States"]["Run mitigation tasks"]["ItemProcessor"]["States"][
        "Acquire mitigation task slot"
    ]
    assert "':limit': {'N': '5'}" in acquire["Arguments"]
    assert findings(template) == []


@pytest.mark.parametrize("mutate", [misspell_a_state_type, misspell_a_field])
def test_a_broken_definition_fails_cfn_lint(tmp_path: Path, mutate: Mutation) -> None:
    # cfn-lint checks the definition against the ASL schema (E3601); it does not follow Next names, which
    # test_asl_contract checks.
    assert "E3601" in {rule for rule, _ in findings(lint_copy(tmp_path, mutate))}


def test_a_placeholder_without_a_substitution_is_named(tmp_path: Path) -> None:
    def stray_placeholder(asl: dict[str, Any]) -> None:
        asl["Comment"] = "${NoSuchSubstitution}"

    with pytest.raises(
        InlineError, match=r"\['NoSuchSubstitution'\].*DefinitionSubstitutions does not define"
    ):
        lint_copy(tmp_path, stray_placeholder)
