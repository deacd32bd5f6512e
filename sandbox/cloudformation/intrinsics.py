"""CloudFormation's intrinsic functions, resolved once for every caller.

Source: the CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters reference".
Parameters and pseudo parameters resolve here; what a resource's `Ref` and `Fn::GetAtt` return is the
caller's `ResourceValues` strategy: physical ids for the sandbox deployer, symbolic names and ARNs for the
template policy tests. Adding an intrinsic function means adding it to `Resolver._FUNCTIONS` only.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol

from sandbox.cloudformation.conditions import CONDITION_FUNCTIONS, Conditions
from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.values import NO_VALUE, text

SUBSTITUTION: Final = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class PseudoParameters:
    account_id: str
    region: str
    stack_name: str
    stack_id: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def values(self) -> dict[str, Any]:
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }


class ResourceValues(Protocol):
    """What `Ref` and `Fn::GetAtt` of a resource return."""

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


def _condition_function(name: str) -> Callable[[Resolver, Any], bool]:
    def evaluate(resolver: Resolver, argument: Any) -> bool:
        return resolver.conditions.evaluate({name: argument})

    return evaluate


class Resolver:
    """Resolves intrinsic functions, parameters, pseudo parameters and conditions of one template."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any],
        pseudo: PseudoParameters,
        resources: ResourceValues,
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo.values()
        self.resources = resources
        self.conditions = Conditions(template.get("Conditions", {}), self.resolve)

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic resolved; `AWS::NoValue` removes list items and keys, alone it is None."""
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def condition(self, name: str) -> bool:
        return self.conditions.value(name)

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        return self.resources.ref(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self.resources.get_att(logical_id, attribute)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                function = self._FUNCTIONS.get(key)
                if function is None:
                    raise DeployError(f"intrinsic function {key} is not supported by the sandbox")
                return function(self, argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.get_att(logical_id, self._resolve(attribute))

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], self._resolve(argument[1])
        else:
            template, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return text(variables[expression])
            if "." in expression and expression.split(".", 1)[0] not in self.pseudo:
                logical_id, attribute = expression.split(".", 1)
                return text(self.get_att(logical_id, attribute))
            return text(self.ref(expression))

        return SUBSTITUTION.sub(replace, str(template))

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(text(item) for item in self._resolve(items))

    def _if(self, argument: Any) -> Any:
        condition, when_true, when_false = argument
        return self._resolve(when_true if self.condition(condition) else when_false)

    def _select(self, argument: Any) -> Any:
        index, items = self._resolve(argument)
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        delimiter, value = self._resolve(argument)
        return str(value).split(str(delimiter))

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(str(self._resolve(argument)).encode()).decode()

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top, second = self._resolve(argument)
        return self.template["Mappings"][map_name][top][second]

    def _get_azs(self, _argument: Any) -> list[str]:
        return [f"{self.pseudo['AWS::Region']}{zone}" for zone in "abcdef"]

    def _to_json_string(self, argument: Any) -> str:
        return json.dumps(self._resolve(argument), separators=(",", ":"))

    def _length(self, argument: Any) -> int:
        return len(self._resolve(argument))

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::Join": _join,
        "Fn::If": _if,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::Base64": _base64,
        "Fn::FindInMap": _find_in_map,
        "Fn::GetAZs": _get_azs,
        "Fn::ToJsonString": _to_json_string,
        "Fn::Length": _length,
        **{name: _condition_function(name) for name in CONDITION_FUNCTIONS},
    }


def references(value: Any) -> Iterator[str]:
    """The logical ids and parameters a value names through Ref, Fn::GetAtt and Fn::Sub."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                yield argument
                return
            if key == "Fn::GetAtt":
                yield (argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
                return
            if key == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) else argument
                variables = argument[1] if isinstance(argument, list) else {}
                for expression in SUBSTITUTION.findall(str(template)):
                    if not expression.startswith("!") and expression not in variables:
                        yield expression.split(".", 1)[0]
                yield from references(variables)
                return
        for item in value.values():
            yield from references(item)
