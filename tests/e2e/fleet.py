"""The throw-away fleet: made and removed through the IoT API alone, so both drivers share it.

Every name starts with a fresh `e2e-<random>` prefix: two things sharing one certificate under an
allow-everything policy (what DEVICE_CERTIFICATE_SHARED_CHECK and IOT_POLICY_OVERLY_PERMISSIVE_CHECK
report) and one healthy thing with its own certificate. The private keys are never kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Device:
    thing_name: str
    certificate_id: str
    certificate_arn: str


@dataclass
class Fleet:
    prefix: str
    policy: str
    shared: list[Device] = field(default_factory=list)
    healthy: list[Device] = field(default_factory=list)

    @property
    def devices(self) -> list[Device]:
        return self.shared + self.healthy

    @property
    def shared_certificate_id(self) -> str:
        [certificate_id] = {device.certificate_id for device in self.shared}
        return certificate_id


def new_prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def seed(iot: Any, prefix: str) -> Fleet:
    fleet = Fleet(prefix, f"{prefix}-allow-all")
    iot.create_policy(
        policyName=fleet.policy,
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        ),
    )
    shared = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=fleet.policy, target=shared["certificateArn"])
    for index in (1, 2):
        fleet.shared.append(_thing(iot, f"{prefix}-shared-{index}", shared))
    own = iot.create_keys_and_certificate(setAsActive=True)
    fleet.healthy.append(_thing(iot, f"{prefix}-healthy", own))
    return fleet


def _thing(iot: Any, name: str, certificate: dict[str, Any]) -> Device:
    iot.create_thing(thingName=name)
    iot.attach_thing_principal(thingName=name, principal=certificate["certificateArn"])
    return Device(name, certificate["certificateId"], certificate["certificateArn"])


def remove(iot: Any, fleet: Fleet, retry: Callable[[Callable[[], Any]], Any]) -> None:
    """Takes the fleet out of every group, detaches, deactivates and deletes its certificates, then its
    things and policy. `retry` repeats a call IoT refuses while a detach is still propagating."""
    certificates = {device.certificate_id: device.certificate_arn for device in fleet.devices}
    for device in fleet.devices:
        for group in iot.list_thing_groups_for_thing(thingName=device.thing_name)["thingGroups"]:
            iot.remove_thing_from_thing_group(thingGroupName=group["groupName"], thingName=device.thing_name)
        iot.detach_thing_principal(thingName=device.thing_name, principal=device.certificate_arn)
    for certificate_id, certificate_arn in certificates.items():
        for policy in iot.list_attached_policies(target=certificate_arn)["policies"]:
            iot.detach_policy(policyName=policy["policyName"], target=certificate_arn)
        iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
        retry(lambda certificate_id=certificate_id: iot.delete_certificate(certificateId=certificate_id))
    for device in fleet.shared + fleet.healthy:
        retry(lambda name=device.thing_name: iot.delete_thing(thingName=name))
    for version in iot.list_policy_versions(policyName=fleet.policy)["policyVersions"]:
        if not version["isDefaultVersion"]:
            iot.delete_policy_version(policyName=fleet.policy, policyVersionId=version["versionId"])
    retry(lambda: iot.delete_policy(policyName=fleet.policy))
