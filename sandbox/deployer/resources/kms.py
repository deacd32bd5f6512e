"""KMS keys and aliases."""

from __future__ import annotations

from typing import Any

from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, tags


def kms_key(d: ResourceContext, _logical_id: str, p: dict[str, Any]) -> Created:
    kms = d.client("kms")
    request: dict[str, Any] = {"Tags": tags(p, key="TagKey", value="TagValue")}
    if "KeyPolicy" in p:
        request["Policy"] = attribute_text(p["KeyPolicy"])
    for key in ("Description", "KeyUsage", "KeySpec"):
        if key in p:
            request[key] = p[key]
    if "MultiRegion" in p:
        request["MultiRegion"] = text(p["MultiRegion"]) == "true"
    metadata = kms.create_key(**request)["KeyMetadata"]
    key_id = metadata["KeyId"]
    if text(p.get("EnableKeyRotation", "false")) == "true":
        kms.enable_key_rotation(KeyId=key_id)
    if text(p.get("Enabled", "true")) == "false":
        kms.disable_key(KeyId=key_id)
    return Created(key_id, {"Arn": metadata["Arn"], "KeyId": key_id})


def kms_alias(d: ResourceContext, _logical_id: str, p: dict[str, Any]) -> Created:
    d.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return Created(p["AliasName"])


def delete_kms_key(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    # CloudFormation schedules the key's deletion (PendingWindowInDays, 30 by default), never deletes it at once.
    days = int(p.get("PendingWindowInDays", 30))
    d.client("kms").schedule_key_deletion(KeyId=created.physical_id, PendingWindowInDays=days)


def delete_kms_alias(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("kms").delete_alias(AliasName=created.physical_id)
