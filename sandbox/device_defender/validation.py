"""Request and response validation driven by botocore's IoT service model.

botocore validates required members, types and minimum lengths on the client; the service also
enforces maximum lengths and item counts, patterns and enums. This module walks the model's shapes
to check all of them, so every emulated operation gets the same treatment without per-operation code.
Messages follow the service's "N validation error(s) detected" format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

# Java's Unicode property classes, as used by the IoT model's patterns, in Python `re` terms.
# Inside a character class \p{L} and \p{N} become \w (letters, digits and "_"): every pattern in the
# model that uses them also allows digits and "_", so the approximation accepts exactly the same set.
_JAVA_CLASSES = {
    r"\p{Graph}": r"\x21-\x7e",
    r"\p{L}": r"\w",
    r"\p{N}": r"\w",
    r"\p{Z}": r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
}


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    translated = pattern
    for java, python in _JAVA_CLASSES.items():
        translated = translated.replace(java, python)
    return re.compile(translated)


def matches_pattern(pattern: str, value: str) -> bool:
    """Whole-value match, as the service applies its patterns (Java `matches`)."""
    return compile_pattern(pattern).fullmatch(value) is not None


@dataclass(frozen=True)
class Violation:
    path: str
    value: object
    constraint: str

    def render(self) -> str:
        shown = "null" if self.value is None else f"'{_short(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def render_violations(violations: Sequence[Violation]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(v.render() for v in violations)


class ShapeWalker:
    """Checks a value against a shape; `strict` also rejects members the shape does not declare."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict

    def walk(self, shape: Shape, value: Any, path: str) -> list[Violation]:
        out: list[Violation] = []
        self._walk(shape, value, path, out)
        return out

    def _walk(self, shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            self._structure(shape, value, path, out)
        elif kind == "list":
            assert isinstance(shape, ListShape)
            self._list(shape, value, path, out)
        elif kind == "map":
            assert isinstance(shape, MapShape)
            self._map(shape, value, path, out)
        elif kind == "string":
            self._string(shape, value, path, out)
        elif kind in ("integer", "long"):
            self._number(shape, value, path, out, integral=True)
        elif kind in ("float", "double"):
            self._number(shape, value, path, out, integral=False)
        elif kind == "boolean":
            if not isinstance(value, bool):
                out.append(Violation(path, value, "Member must be a boolean"))
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, datetime | int | float | str):
                out.append(Violation(path, value, "Member must be a timestamp"))
        elif kind == "blob" and not isinstance(value, bytes | bytearray | str):
            out.append(Violation(path, value, "Member must be a blob"))

    def _structure(self, shape: StructureShape, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, Mapping):
            out.append(Violation(path, value, "Member must be a structure"))
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(Violation(_join(path, name), None, "Member must not be null"))
        for name, member_value in value.items():
            member_shape = shape.members.get(name)
            if member_shape is None:
                if self.strict:
                    out.append(Violation(_join(path, name), member_value, "Member is not in the model"))
                continue
            if member_value is None:
                continue
            self._walk(member_shape, member_value, _join(path, name), out)

    def _list(self, shape: ListShape, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, list | tuple):
            out.append(Violation(path, value, "Member must be a list"))
            return
        self._length(shape, value, len(value), path, out)
        for index, item in enumerate(value, start=1):
            self._walk(shape.member, item, f"{path}.{index}.member", out)

    def _map(self, shape: MapShape, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, Mapping):
            out.append(Violation(path, value, "Member must be a map"))
            return
        self._length(shape, value, len(value), path, out)
        for key, item in value.items():
            self._walk(shape.key, key, f"{path}.{key}.key", out)
            self._walk(shape.value, item, f"{path}.{key}.value", out)

    def _string(self, shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, str):
            out.append(Violation(path, value, "Member must be a string"))
            return
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            out.append(Violation(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        self._length(shape, value, len(value), path, out)
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not matches_pattern(pattern, value):
            out.append(Violation(path, value, f"Member must satisfy regular expression pattern: {pattern}"))

    def _number(self, shape: Shape, value: Any, path: str, out: list[Violation], *, integral: bool) -> None:
        allowed: tuple[type, ...] = (int,) if integral else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            out.append(Violation(path, value, "Member must be a number"))
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            out.append(Violation(path, value, f"Member must have value greater than or equal to {low}"))
        if high is not None and value > high:
            out.append(Violation(path, value, f"Member must have value less than or equal to {high}"))

    @staticmethod
    def _length(shape: Shape, value: object, length: int, path: str, out: list[Violation]) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            out.append(Violation(path, value, f"Member must have length greater than or equal to {low}"))
        if high is not None and length > high:
            out.append(Violation(path, value, f"Member must have length less than or equal to {high}"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@functools.cache
def iot_service_model() -> ServiceModel:
    """botocore's IoT model (loading it takes tens of milliseconds, so it is loaded once)."""
    return botocore.session.get_session().get_service_model("iot")


class ModelValidator:
    """Validates requests (lenient about unknown members, as botocore already rejects them) and
    responses (strict: only declared members) of one service model."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        self._requests = ShapeWalker(strict=False)
        self._responses = ShapeWalker(strict=True)

    def operation(self, name: str) -> OperationModel:
        return self.service_model.operation_model(name)

    def request_violations(self, operation_name: str, params: Mapping[str, Any]) -> list[Violation]:
        shape = self.operation(operation_name).input_shape
        if shape is None:
            return []
        return self._requests.walk(shape, params, "")

    def response_violations(self, operation_name: str, response: Mapping[str, Any]) -> list[Violation]:
        shape = self.operation(operation_name).output_shape
        if shape is None:
            return [Violation("", dict(response), "Operation has no output")] if response else []
        return self._responses.walk(shape, response, "")
