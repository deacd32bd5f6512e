"""Deleting a stack's resources the way CloudFormation does: in reverse creation order, keeping those whose
DeletionPolicy keeps them.

DeletionPolicy (AWS CloudFormation User Guide, "DeletionPolicy attribute"): `Retain` keeps the resource on
stack deletion and on a rollback; `RetainExceptOnCreate` keeps it on stack deletion but deletes it when the
create that made it rolls back (What's New, 2023-07-31); `Delete` (the default) deletes it; `Snapshot` takes a
final snapshot first, which the sandbox does not model (it deletes the resource and logs that).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.cloudformation.errors import DeployError
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.errors import UnsupportedResourceTypeError
from sandbox.deployer.resources import RESOURCE_DELETERS

LOG = logging.getLogger(__name__)

KEPT_ON_ROLLBACK: Final = frozenset({"Retain"})
KEPT_ON_DELETE: Final = frozenset({"Retain", "RetainExceptOnCreate"})


@dataclass(frozen=True)
class CreatedResource:
    logical_id: str
    resource_type: str
    created: Created
    properties: dict[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"


class DeleteFailedError(DeployError):
    """A resource could not be deleted (CloudFormation's DELETE_FAILED, or ROLLBACK_FAILED on a rollback)."""


def delete_resources(
    d: ResourceContext, resources: Sequence[CreatedResource], *, keep: frozenset[str]
) -> list[CreatedResource]:
    """Deletes `resources` last first, except those whose DeletionPolicy is in `keep`; returns the kept ones."""
    missing = sorted(
        {r.resource_type for r in resources if r.deletion_policy not in keep} - set(RESOURCE_DELETERS)
    )
    if missing:
        raise UnsupportedResourceTypeError(
            f"the sandbox deployer cannot delete these resource types: {missing}"
        )
    kept: list[CreatedResource] = []
    for resource in reversed(resources):
        if resource.deletion_policy in keep:
            kept.append(resource)
            continue
        if resource.deletion_policy == "Snapshot":
            LOG.info(
                "%s: DeletionPolicy Snapshot; the sandbox deletes it without a snapshot", resource.logical_id
            )
        try:
            RESOURCE_DELETERS[resource.resource_type](d, resource.created, resource.properties)
        except Exception as error:
            raise DeleteFailedError(
                f"{resource.logical_id} ({resource.resource_type}) {resource.created.physical_id}: "
                f"delete failed: {type(error).__name__}: {error}"
            ) from error
    return kept
