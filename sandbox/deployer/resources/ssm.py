"""Systems Manager parameters (AWS::SSM::Parameter: Ref is the parameter's name)."""

from __future__ import annotations

from typing import Any

from sandbox.deployer.context import Created, ResourceContext


def ssm_parameter(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("Name") or d.physical_name(logical_id, max_length=2048)
    request: dict[str, Any] = {"Name": name, "Type": p["Type"], "Value": p["Value"]}
    for key in ("Description", "AllowedPattern", "Tier", "DataType"):
        if key in p:
            request[key] = p[key]
    d.client("ssm").put_parameter(**request)
    return Created(name, {"Type": p["Type"], "Value": p["Value"]})


def delete_ssm_parameter(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    del p
    d.client("ssm").delete_parameter(Name=created.physical_id)
