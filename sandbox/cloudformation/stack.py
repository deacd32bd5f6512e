"""A deployed stack: what CloudFormation's DescribeStacks and ListStackResources would say."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Stack:
    name: str
    stack_id: str
    template_path: Path
    parameters: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    resource_types: dict[str, str] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self.attributes[logical_id][attribute]
