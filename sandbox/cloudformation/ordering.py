"""Creation order: a resource after everything it references or DependsOn, in template order otherwise."""

from collections.abc import Mapping
from typing import Any

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.intrinsics import references


def dependencies(resource: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    depends_on = resource.get("DependsOn", [])
    found.update([depends_on] if isinstance(depends_on, str) else depends_on)
    found.update(references(resource.get("Properties", {})))
    return found


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The logical ids in an order that creates every dependency first; a cycle is an error naming it."""
    needs = {
        logical_id: dependencies(resource) & set(resources) for logical_id, resource in resources.items()
    }
    position = {logical_id: index for index, logical_id in enumerate(resources)}
    order: list[str] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(logical_id: str) -> None:
        if logical_id in done:
            return
        if logical_id in visiting:
            cycle = [*visiting[visiting.index(logical_id) :], logical_id]
            raise DeployError(f"circular dependency: {' -> '.join(cycle)}")
        visiting.append(logical_id)
        for dependency in sorted(needs[logical_id], key=position.__getitem__):
            visit(dependency)
        visiting.pop()
        done.add(logical_id)
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return order
