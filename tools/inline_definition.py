"""template.yaml as CloudFormation deploys it, with each state machine's definition inline for cfn-lint.

cfn-lint validates a state machine's definition only when it is an inline `Definition` of an
AWS::StepFunctions::StateMachine: with `DefinitionUri` it looks at nothing, and the Serverless transform turns an
inline `Definition` into a `DefinitionString` join it cannot read either. `python -m tools.inline_definition
[template.yaml] > build/template.inlined.json` writes the translated template (tools.sam_template) in which each
state machine's `Definition` is its ASL file with every `${Name}` of `DefinitionSubstitutions` replaced by the
value CloudFormation would put there: a literal as written, a parameter's default, the stack name, or the
substitution's own name for a resource reference (a name or ARN known only at deploy time). The substitutions
stay in place, so every parameter and resource they name is still used.

One change is made for the linter only: a JSONata expression that is, once substituted, a bare number
(`"{% 5 %}"`) is written as that number. Step Functions accepts JSONata wherever a number goes (the deployed
`MaxConcurrency` is `{% ${MaxConcurrentMitigationTasks} %}` because the stack parameter must reach it), but
cfn-lint's schema accepts only a number there (E3601); the lint copy says the same thing as a number.
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from tools.sam_template import TEMPLATE, load, translate

STATE_MACHINE_TYPES = {"AWS::Serverless::StateMachine"}
LINT_STACK_NAME = "iot-audit-remediator"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_NUMBER_EXPRESSION = re.compile(r"^\{%\s*(-?\d+(?:\.\d+)?)\s*%\}$")


class InlineError(ValueError):
    """The template names a placeholder or a substitution this tool cannot resolve."""


def substitution_value(name: str, value: Any, parameters: dict[str, Any]) -> str:
    """The text CloudFormation substitutes for `${name}`, or a stand-in for what only a deploy knows."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        target = value["Ref"]
        if target == "AWS::StackName":
            return LINT_STACK_NAME
        if target in parameters:
            if "Default" not in parameters[target]:
                raise InlineError(f"{name}: parameter {target} has no default to lint with")
            return str(parameters[target]["Default"])
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in {"Ref", "Fn::GetAtt", "Fn::Sub"}:
        return name
    raise InlineError(f"{name}: cannot resolve the substitution {value!r}")


def _numbers_for_lint(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _numbers_for_lint(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_numbers_for_lint(value) for value in node]
    if isinstance(node, str) and (match := _NUMBER_EXPRESSION.match(node)):
        number = float(match.group(1))
        return int(number) if number.is_integer() else number
    return node


def definition(properties: dict[str, Any], parameters: dict[str, Any], root: Path) -> dict[str, Any]:
    """A state machine's ASL file with its substitutions applied."""
    text = (root / properties["DefinitionUri"]).read_text(encoding="utf-8")
    substitutions = properties.get("DefinitionSubstitutions", {})
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(substitutions))
    if unknown:
        raise InlineError(f"the definition uses {unknown}, which DefinitionSubstitutions does not define")
    values = {name: substitution_value(name, value, parameters) for name, value in substitutions.items()}
    parsed: dict[str, Any] = json.loads(text, object_hook=lambda node: _substituted(node, values))
    return parsed


def _substituted(node: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    def text(value: str) -> str:
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], value)

    return {text(key): text(value) if isinstance(value, str) else value for key, value in node.items()}


def inline_definitions(template: dict[str, Any], root: Path = TEMPLATE.parent) -> dict[str, Any]:
    """The lint copy: the translated template, every state machine with a local ASL file defined inline."""
    written: dict[str, Any] = json.loads(json.dumps(template))
    parameters = written.get("Parameters", {})
    definitions = {}
    for logical_id, resource in written.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        uri = properties.get("DefinitionUri")
        if (
            resource.get("Type") in STATE_MACHINE_TYPES
            and isinstance(uri, str)
            and not uri.startswith("s3://")
        ):
            definitions[logical_id] = _numbers_for_lint(definition(properties, parameters, root))
            properties["DefinitionUri"] = f"s3://lint-only/{uri}"
    translated = translate(written)
    for logical_id, inline in definitions.items():
        properties = translated["Resources"][logical_id]["Properties"]
        properties.pop("DefinitionS3Location")
        properties["Definition"] = inline
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    arguments = parser.parse_args(argv)
    try:
        inlined = inline_definitions(load(arguments.template), arguments.template.resolve().parent)
    except (InlineError, OSError, json.JSONDecodeError) as error:
        print(f"inline_definition: {error}", file=sys.stderr)
        return 2
    json.dump(inlined, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
