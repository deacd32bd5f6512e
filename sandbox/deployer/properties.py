"""CloudFormation resource properties turned into API request parameters."""

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from sandbox.cloudformation.values import text
from sandbox.stepfunctions import to_api_members


def attribute_text(value: Any) -> str:
    """A property written as a string attribute: objects as JSON, scalars as CloudFormation writes them."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return text(value)


def tags(properties: Mapping[str, Any], *, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: str(tag["Key"]), value: str(tag["Value"])} for tag in properties.get("Tags", [])]


@cache
def _input_shape(service: str, operation: str) -> StructureShape:
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def cfn_to_api(
    properties: Mapping[str, Any], service: str, operation: str, *, drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """CloudFormation properties -> API parameters: member names from the service model, scalars typed."""
    kept = {key: value for key, value in properties.items() if key not in drop}
    shape = _input_shape(service, operation)
    return _coerce(to_api_members(kept, shape), shape)  # type: ignore[no-any-return]


def _coerce(value: Any, shape: Shape | None) -> Any:
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {key: _coerce(item, shape.members.get(key)) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, list):
        # CloudFormation writes tag maps as [{Key, Value}] lists.
        return {str(item["Key"]): _coerce(item["Value"], shape.value) for item in value}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_coerce(item, shape.member) for item in value]
    if shape.type_name in ("integer", "long") and isinstance(value, str):
        return int(value)
    if shape.type_name in ("double", "float") and isinstance(value, str | int):
        return float(value)
    if shape.type_name == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if shape.type_name == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    if shape.type_name == "string" and not isinstance(value, str):
        return text(value)
    return value
