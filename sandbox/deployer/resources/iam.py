"""IAM roles, inline and managed policies (AWS managed policies loaded into moto one at a time)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sandbox.cloudformation.errors import DeployError
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, tags


def iam_role(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("RoleName") or d.physical_name(logical_id, max_length=64)
    iam = d.client("iam")
    request: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json.dumps(p["AssumeRolePolicyDocument"]),
        "Path": p.get("Path", "/"),
        "Tags": tags(p),
    }
    for key in ("Description", "PermissionsBoundary"):
        if key in p:
            request[key] = p[key]
    if "MaxSessionDuration" in p:
        request["MaxSessionDuration"] = int(p["MaxSessionDuration"])
    role = iam.create_role(**request)["Role"]
    for policy_arn in p.get("ManagedPolicyArns", []):
        _ensure_aws_managed_policy(d, policy_arn)
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    for policy in p.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=_policy_document(policy["PolicyDocument"]),
        )
    return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _policy_document(document: Any) -> str:
    # IAM reads a document without Version as the 2008 language; moto rejects it, SAM omits it.
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return attribute_text(document)


@cache
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def _ensure_aws_managed_policy(d: ResourceContext, policy_arn: str) -> None:
    """Loads one AWS managed policy into moto (loading all of them costs a second per sandbox)."""
    prefix = "arn:aws:iam::aws:policy/"
    if not policy_arn.startswith(prefix):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[d.account_id]["aws"]
    if policy_arn in backend.managed_policies:
        return
    name = policy_arn.rsplit("/", 1)[-1]
    data = _aws_managed_policy_data().get(name)
    if data is None:
        raise DeployError(f"{policy_arn} is not an AWS managed policy the sandbox knows")
    policy = AWSManagedPolicy.from_data(name, d.account_id, d.region, data)
    backend.managed_policies[policy.arn] = policy


def iam_policy(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    iam = d.client("iam")
    document = _policy_document(p["PolicyDocument"])
    for role in p.get("Roles", []):
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users", []):
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups", []):
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    return Created(d.physical_name(logical_id))


def iam_managed_policy(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    iam = d.client("iam")
    request: dict[str, Any] = {
        "PolicyName": p.get("ManagedPolicyName") or d.physical_name(logical_id, max_length=128),
        "PolicyDocument": _policy_document(p["PolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    if "Description" in p:
        request["Description"] = p["Description"]
    arn = iam.create_policy(**request)["Policy"]["Arn"]
    for role in p.get("Roles", []):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users", []):
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups", []):
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    return Created(arn, {"PolicyArn": arn})


def delete_iam_managed_policy(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    # IAM API reference, DeletePolicy: the policy must first be detached from every user, group and role and
    # its non-default versions deleted. The entities the template names are detached here; whether
    # CloudFormation also detaches attachments made outside the stack is UNVERIFIED, so IAM refuses those
    # (DeleteConflict) as it would refuse any caller.
    iam = d.client("iam")
    arn = created.physical_id
    for role in p.get("Roles", []):
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users", []):
        iam.detach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups", []):
        iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def delete_iam_role(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    # IAM refuses to delete a role with policies: CloudFormation detaches and deletes them first.
    iam = d.client("iam")
    name = created.physical_id
    for policy_arn in p.get("ManagedPolicyArns", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn)
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    iam.delete_role(RoleName=name)
