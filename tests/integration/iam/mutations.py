"""Copies of template.yaml with one IAM change each: an action taken from a role (its identity policy,
or its key policy statement for kms:*), a statement's resource narrowed, a trust or key policy
condition changed. The copy is written as JSON next to links to the code it deploys, as
tests/integration/test_undeployed_action.py does.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from samtranslator.yaml_helper import yaml_parse

from tests.conftest import ROOT

Template = dict[str, Any]
# A resource no request of the stack names: same service and resource type, another name.
OTHER: Final = "not-this-stack-resource"
# The ARN pattern of a resource a statement names with !GetAtt X.Arn, by X's type.
_GETATT_ARNS: Final = {
    "AWS::IoT::ThingGroup": "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:thinggroup/",
    "AWS::IAM::Role": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/",
}


def load() -> Template:
    template: Template = yaml_parse((ROOT / "template.yaml").read_text())
    return template


def write(template: Template, directory: Path) -> Path:
    for local in ("functions", "layers", "statemachine"):
        link = directory / local
        if not link.exists():
            link.symlink_to(ROOT / local)
    path = directory / "template.json"
    path.write_text(json.dumps(template))
    return path


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _unwrapped(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement under Fn::If (there only when a parameter turns it on) is its true branch."""
    body: dict[str, Any] = statement["Fn::If"][1] if "Fn::If" in statement else statement
    return body


def identity_statements(template: Template, role: str) -> Iterator[dict[str, Any]]:
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        yield from (_unwrapped(s) for s in _listed(policy["PolicyDocument"]["Statement"]))


def _role_ref(role: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [role, "Arn"]}


def _conditional(principal: Any) -> bool:
    return isinstance(principal, dict) and "Fn::If" in principal


def _take_from_statements(statements: list[dict[str, Any]], role: str, action: str) -> int:
    """Takes `action` from `role` in the Allow statements of a resource or key policy that name it:
    the role leaves the statement and gets a statement of its own with the statement's other actions."""
    taken = 0
    for statement in list(statements):
        principal = statement.get("Principal")
        if statement["Effect"] != "Allow" or not isinstance(principal, dict):
            continue
        named = _listed(principal.get("AWS", []))
        patterns = _listed(statement["Action"])
        kept = [p for p in patterns if not _matches(p, action)]
        if _role_ref(role) not in named or kept == patterns:
            continue
        taken += 1
        others = [p for p in named if p != _role_ref(role)]
        # A principal under Fn::If is there only when a parameter the scenarios do not set is given.
        if any(not _conditional(p) for p in others):
            principal["AWS"] = others
        else:
            statements.remove(statement)
        if kept:
            rest = {**copy.deepcopy(statement), "Principal": {"AWS": _role_ref(role)}, "Action": kept}
            rest["Sid"] = f"{statement.get('Sid', 'Grant')}Rest"
            statements.append(rest)
    return taken


def _resource_policies(template: Template) -> Iterator[list[dict[str, Any]]]:
    """The statement lists of the stack's key, topic and queue policies."""
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key":
            yield properties["KeyPolicy"]["Statement"]
        elif resource["Type"] in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            yield properties["PolicyDocument"]["Statement"]


def without_action(role: str, action: str) -> Template:
    """template.yaml with `action` taken from `role` wherever it is granted: its identity statements,
    and the Allow statements of the key, topic and queue policies that name it (within one account
    either kind of policy is enough: IAM user guide, "Policy evaluation for requests within a single
    account"; a KMS key policy must itself allow: AWS KMS developer guide, "Key policies")."""
    template = load()
    taken = sum(
        _take_from_statements(statements, role, action) for statements in _resource_policies(template)
    )
    properties = template["Resources"][role]["Properties"]
    for policy in properties.get("Policies", []):
        statements = _listed(policy["PolicyDocument"]["Statement"])
        for statement in list(statements):
            body = _unwrapped(statement)
            patterns = _listed(body.get("Action", []))
            kept = [p for p in patterns if not _matches(p, action)]
            if body["Effect"] != "Allow" or kept == patterns:
                continue
            taken += 1
            if kept:
                body["Action"] = kept
            else:
                statements.remove(statement)
        policy["PolicyDocument"]["Statement"] = statements
    # IAM refuses a policy without statements: a role left with none has no inline policy.
    properties["Policies"] = [p for p in properties.get("Policies", []) if p["PolicyDocument"]["Statement"]]
    if not taken:
        raise LookupError(f"no statement of template.yaml grants {action} to {role}")
    return template


@dataclass(frozen=True)
class Narrowing:
    """One resource of one identity statement of a role, and the statement's actions."""

    role: str
    sid: str
    index: int
    resource: Any
    actions: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.role}-{self.sid}-{self.index}"


def narrowings(template: Template, roles: Callable[[str], bool]) -> list[Narrowing]:
    """Every resource (not "*") of every Allow statement of the roles `roles` accepts."""
    found: list[Narrowing] = []
    for role, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or not roles(role):
            continue
        for number, statement in enumerate(identity_statements(template, role)):
            if statement["Effect"] != "Allow":
                continue
            for index, value in enumerate(_listed(statement.get("Resource", "*"))):
                if value != "*":
                    sid = statement.get("Sid") or f"Statement{number}"
                    found.append(Narrowing(role, sid, index, value, tuple(_listed(statement["Action"]))))
    return found


def other_resource(template: Template, value: Any) -> dict[str, Any]:
    """An ARN of the same service and resource type as `value` that names none of the stack's resources."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, _ = value["Fn::GetAtt"]
        kind = template["Resources"][target]["Type"]
        if kind not in _GETATT_ARNS:
            raise ValueError(f"no ARN pattern for !GetAtt {target}.Arn ({kind}); add one to _GETATT_ARNS")
        return {"Fn::Sub": _GETATT_ARNS[kind] + OTHER}
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        # ${AWS::Region} and the like hold colons: split the ARN with them set aside.
        variables = re.findall(r"\$\{[^}]*\}", value["Fn::Sub"])
        arn = re.sub(r"\$\{[^}]*\}", "\0", value["Fn::Sub"])
        parts = arn.split(":", 5)
        resource = parts[5]
        cut = min((resource.index(s) for s in "/:" if s in resource), default=-1)
        parts[5] = f"{resource[: cut + 1]}{OTHER}" if cut >= 0 else OTHER
        other = ":".join(parts)
        for variable in variables:
            other = other.replace("\0", variable, 1)
        return {"Fn::Sub": other}
    raise ValueError(f"cannot narrow resource {value!r}")


def narrowed(narrowing: Narrowing) -> Template:
    """template.yaml with the narrowing's resource replaced; a topic or queue policy that grants the
    statement's actions to the role too loses that grant, so that the statement alone decides."""
    template = load()
    for action in narrowing.actions:
        for statements in _resource_policies(template):
            _take_from_statements(statements, narrowing.role, action)
    for number, statement in enumerate(identity_statements(template, narrowing.role)):
        if (statement.get("Sid") or f"Statement{number}") != narrowing.sid:
            continue
        resources = _listed(statement["Resource"])
        resources[narrowing.index] = other_resource(template, resources[narrowing.index])
        statement["Resource"] = resources
        return template
    raise LookupError(f"{narrowing.role} has no statement {narrowing.sid}")


def trust_condition(template: Template, role: str, operator: str, key: str, value: Any) -> Template:
    """`role`'s trust policy statement with its condition on `key` now `operator` `value`."""
    [statement] = _listed(template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    conditions = statement["Condition"]
    for existing in conditions.values():
        existing.pop(key, None)
    conditions.setdefault(operator, {})[key] = value
    for name in [name for name, clause in conditions.items() if not clause]:
        del conditions[name]
    return template


def key_statement(template: Template, key: str, sid: str) -> dict[str, Any]:
    for statement in template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]:
        if statement.get("Sid") == sid:
            found: dict[str, Any] = statement
            return found
    raise LookupError(f"{key} has no statement {sid}")


def without_key_statement(template: Template, key: str, sid: str) -> Template:
    statements = template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    statements.remove(key_statement(template, key, sid))
    return template


def without_key_principal(template: Template, key: str, sid: str, role: str) -> Template:
    """The key policy statement no longer names `role` (a statement left naming nobody the scenarios
    deploy with is removed)."""
    statement = key_statement(template, key, sid)
    others = [p for p in _listed(statement["Principal"]["AWS"]) if p != _role_ref(role)]
    if any(not _conditional(p) for p in others):
        statement["Principal"]["AWS"] = others
    else:
        without_key_statement(template, key, sid)
    return template
