"""The event Parameter Store sends to EventBridge when a parameter is created, updated or deleted
("Parameter Store Change"), which moto does not send.

Shape, from the Systems Manager user guide ("Amazon EventBridge event examples for Systems Manager",
Parameter Store events; https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html):
source `aws.ssm`, `resources` the parameter's ARN (`parameter/<name without its leading slash>`),
`detail` = {operation: Create | Update | Delete, name (as written, with its leading slash), type,
description}. The parameter's value is not part of the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3

from sandbox.faults import CallLog
from sandbox.patching import Patch, patch_attribute, restore_patches

LOG = logging.getLogger(__name__)


def parameter_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"


def put_parameter_change_event(
    region: str, account_id: str, operation: str, name: str, parameter_type: str, description: str | None
) -> None:
    detail: dict[str, Any] = {"operation": operation, "name": name, "type": parameter_type}
    if description:
        detail["description"] = description
    boto3.client("events", region_name=region).put_events(
        Entries=[
            {
                "Source": "aws.ssm",
                "DetailType": "Parameter Store Change",
                "Detail": json.dumps(detail),
                "Resources": [parameter_arn(region, account_id, name)],
            }
        ]
    )


class ParameterStoreEvents:
    """Sends the change event for every parameter written or deleted while the sandbox is open."""

    def __init__(self, *, calls: CallLog, is_open: Callable[[], bool]) -> None:
        self._calls = calls
        self._is_open = is_open
        self._patches: list[Patch] = []

    def install(self) -> None:
        from moto.ssm.models import SimpleSystemManagerBackend

        original_put = SimpleSystemManagerBackend.__dict__["put_parameter"]
        original_delete = SimpleSystemManagerBackend.__dict__["delete_parameter"]
        original_delete_many = SimpleSystemManagerBackend.__dict__["delete_parameters"]
        events = self

        def put_parameter(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            existed = bool(backend._parameters.get(backend._parameters.normalize_name(name)))
            parameter = original_put(backend, name, *args, **kwargs)
            events.send(
                backend,
                "Update" if existed else "Create",
                parameter.name,
                parameter.parameter_type,
                parameter.description,
            )
            return parameter

        def delete_parameter(backend: Any, name: str) -> None:
            latest = events.latest(backend, name)
            original_delete(backend, name)
            events.send(backend, "Delete", latest.name, latest.parameter_type, latest.description)

        def delete_parameters(backend: Any, names: list[str]) -> list[str]:
            latest = {name: events.latest(backend, name) for name in names}
            deleted: list[str] = original_delete_many(backend, names)
            for name in deleted:
                parameter = latest[name]
                events.send(
                    backend, "Delete", parameter.name, parameter.parameter_type, parameter.description
                )
            return deleted

        patch_attribute(self._patches, SimpleSystemManagerBackend, "put_parameter", put_parameter)
        patch_attribute(self._patches, SimpleSystemManagerBackend, "delete_parameter", delete_parameter)
        patch_attribute(self._patches, SimpleSystemManagerBackend, "delete_parameters", delete_parameters)

    @staticmethod
    def latest(backend: Any, name: str) -> Any:
        versions = backend._parameters.get(backend._parameters.normalize_name(name))
        return versions[-1] if versions else None

    def send(
        self, backend: Any, operation: str, name: str, parameter_type: str, description: str | None
    ) -> None:
        if not self._is_open():
            return
        try:
            with self._calls.pause():
                put_parameter_change_event(
                    backend.region_name, backend.account_id, operation, name, parameter_type, description
                )
        except Exception:
            LOG.exception("could not send the Parameter Store change event")

    def uninstall(self) -> None:
        restore_patches(self._patches)
