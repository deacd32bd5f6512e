"""A template's Parameters: the values given, or the defaults, checked against their declarations.

Source: the CloudFormation User Guide, "Parameters syntax" (Type, AllowedValues, AllowedPattern,
MinValue, MaxValue; list types are comma-delimited).
"""

import re
from collections.abc import Mapping
from typing import Any

from sandbox.cloudformation.errors import DeployError


def parameter_values(declared: Mapping[str, Any], requested: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(requested) - set(declared))
    if unknown:
        raise DeployError(f"Parameters {unknown} do not exist in the template")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in requested:
            raw = requested[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            raise DeployError(f"Parameters: [{name}] must have values")
        values[name] = typed_parameter(name, declaration, raw)
    return values


def typed_parameter(name: str, declaration: Mapping[str, Any], raw: Any) -> Any:
    parameter_type = declaration.get("Type", "String")
    text = "true" if raw is True else "false" if raw is False else str(raw)
    allowed = declaration.get("AllowedValues")
    if parameter_type == "String":
        if allowed is not None and text not in [str(a) for a in allowed]:
            raise DeployError(f"Parameter {name} must be one of {allowed}, got {text!r}")
        pattern = declaration.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, text) is None:
            raise DeployError(f"Parameter {name} must match {pattern}, got {text!r}")
        return text
    if parameter_type == "Number":
        try:
            number = float(text)
        except ValueError as error:
            raise DeployError(f"Parameter {name} must be a number, got {text!r}") from error
        for bound, check in (("MinValue", number.__lt__), ("MaxValue", number.__gt__)):
            if bound in declaration and check(float(declaration[bound])):
                raise DeployError(f"Parameter {name}={text} violates {bound} {declaration[bound]}")
        if allowed is not None and number not in [float(a) for a in allowed]:
            raise DeployError(f"Parameter {name} must be one of {allowed}, got {text!r}")
        return text
    if parameter_type in ("CommaDelimitedList", "List<Number>", "List<String>"):
        return [item.strip() for item in text.split(",")] if text else []
    raise DeployError(f"Parameter {name}: type {parameter_type} is not supported by the sandbox")
