"""The sandbox's functions: what the deployer registered, found by name, ARN or logical id."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.iam.evaluation import Caller
from sandbox.iam.principals import role_session


class UnknownFunctionError(LookupError):
    """No function of the sandbox has this name, ARN or logical id."""


@dataclass
class FunctionSpec:
    """What the deployer knows about one AWS::Lambda::Function."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    memory_mb: int = 128
    timeout_seconds: int = 3
    runtime: str = "python3.12"
    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure_destination: str | None = None
    on_success_destination: str | None = None
    # The execution role its code and its destinations act as (None: a function a test registered
    # without one, whose calls are the operator's).
    role_arn: str | None = None


def execution_caller(spec: FunctionSpec) -> Caller | None:
    """The caller a function's handler and its asynchronous destinations are: a session of its role."""
    return role_session(spec.role_arn, spec.function_name) if spec.role_arn else None


class FunctionRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, FunctionSpec] = {}

    def register(self, spec: FunctionSpec) -> None:
        self._specs[spec.function_name] = spec

    def update(self, name_or_arn: str, **changes: Any) -> FunctionSpec:
        spec = self.get(name_or_arn)
        for key, value in changes.items():
            setattr(spec, key, value)
        return spec

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return dict(self._specs)

    def find(self, name_or_arn: str) -> FunctionSpec | None:
        """The function a name, a qualified name (`name:alias`), an ARN or a logical id names."""
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        elif ":" in name:
            name = name.split(":", 1)[0]
        if name in self._specs:
            return self._specs[name]
        for spec in self._specs.values():
            if spec.logical_id == name_or_arn:
                return spec
        return None

    def get(self, name_or_arn: str) -> FunctionSpec:
        spec = self.find(name_or_arn)
        if spec is None:
            raise UnknownFunctionError(
                f"no function {name_or_arn!r} in the sandbox (known: {sorted(self._known_names())})"
            )
        return spec

    def _known_names(self) -> Iterator[str]:
        for spec in self._specs.values():
            yield spec.logical_id
            yield spec.function_name
