"""The longest stack name template.yaml can hold, and a check of the stack names the project deploys.

Resources are named from the stack name (`!Sub "${AWS::StackName}-..."`), and each service caps its names
(botocore's models, sandbox.name_limits); CloudFormation only finds out at the resource's create call, then
rolls the stack back. `python -m tools.stack_names` checks every stack_name in samconfig.toml (`make build`
runs it); `--stack-name NAME` checks another name. Exit status 1 when a name is too long.
"""

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.name_limits import NAME_MEMBERS, max_length
from tools.sam_template import TEMPLATE, load, translate

SAMCONFIG = TEMPLATE.parent / "samconfig.toml"
_STACK = "${AWS::StackName}"
_PSEUDO = {"${AWS::AccountId}": "123456789012", "${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1"}


@dataclass(frozen=True)
class DerivedName:
    logical_id: str
    resource_type: str
    pattern: str
    limit: int

    @property
    def budget(self) -> int:
        """The longest stack name this resource's name can be built from."""
        return self.limit - (len(self.pattern) - len(_STACK))


def _sub_text(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        argument = value["Fn::Sub"]
        text = argument if isinstance(argument, str) else None
        if text is None:
            return None
        for pseudo, example in _PSEUDO.items():
            text = text.replace(pseudo, example)
        return None if re.search(r"\$\{(?!AWS::StackName\})", text) else text
    return None


def derived_names(template: dict[str, Any]) -> list[DerivedName]:
    """Every physical name built from the stack name, under any condition."""
    found: list[DerivedName] = []
    for logical_id, resource in template["Resources"].items():
        member = NAME_MEMBERS.get(resource.get("Type", ""))
        limit = max_length(resource.get("Type", ""))
        if member is None or limit is None:
            continue
        text = _sub_text(resource.get("Properties", {}).get(member.property_name))
        if text is not None and _STACK in text:
            found.append(DerivedName(logical_id, resource["Type"], text, limit))
    return found


def problem(stack_name: str, names: list[DerivedName]) -> str | None:
    tightest = min(names, key=lambda name: name.budget)
    if len(stack_name) <= tightest.budget:
        return None
    return (
        f"stack name {stack_name!r} is {len(stack_name)} characters; template.yaml holds at most "
        f"{tightest.budget}: {tightest.logical_id} ({tightest.resource_type}) is named "
        f"{tightest.pattern.replace(_STACK, '<stack>')!r} and its service accepts {tightest.limit} characters"
    )


def samconfig_stack_names(path: Path = SAMCONFIG) -> dict[str, str]:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        environment: str(sections["global"]["parameters"]["stack_name"])
        for environment, sections in config.items()
        if isinstance(sections, dict) and "stack_name" in sections.get("global", {}).get("parameters", {})
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", help="check this name instead of samconfig.toml's")
    arguments = parser.parse_args(argv)
    names = derived_names(translate(load()))
    stack_names = {"--stack-name": arguments.stack_name} if arguments.stack_name else samconfig_stack_names()
    failures = [
        f"{source}: {found}" for source, name in stack_names.items() if (found := problem(name, names))
    ]
    for failure in failures:
        print(failure, file=sys.stderr)
    if not failures:
        budget = min(name.budget for name in names)
        print(
            f"stack names fit template.yaml (at most {budget} characters): {', '.join(stack_names.values())}"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
