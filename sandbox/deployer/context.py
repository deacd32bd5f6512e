"""What a resource handler receives and returns: the contract between the deployment and the handlers."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sandbox.iam.enforcement import Enforcement
from sandbox.lambdas import LambdaRunner


@dataclass
class Created:
    """What a resource handler returns: the Ref value and the Fn::GetAtt attributes."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


class ResourceContext(Protocol):
    """The stack being created, as a handler sees it."""

    region: str
    account_id: str
    lambdas: LambdaRunner
    # The account's IAM, for the role checks services make when a resource is created (None: unchecked).
    iam: Enforcement | None
    layer_dirs: dict[str, Path]
    after_deploy: list[Callable[[], Any]]

    def client(self, service: str) -> Any: ...

    def physical_name(self, logical_id: str, *, max_length: int = 255, stack_prefix: bool = True) -> str: ...

    def artifact(self, bucket: str, key: str) -> Path: ...

    def scratch_dir(self) -> Path: ...


ResourceHandler = Callable[[ResourceContext, str, dict[str, Any]], Created]


ResourceDeleter = Callable[[ResourceContext, Created, dict[str, Any]], None]
"""Deletes what a handler created: its Created (physical id and attributes) and its resolved properties."""
