"""Lambda layers, functions (registered with the in-process runner), permissions, event invoke
configurations, versions and aliases."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import cfn_to_api
from sandbox.iam.service_contexts import lambda_assume_context
from sandbox.lambdas import FunctionSpec


def layer_version(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    content = p["Content"]
    directory = d.artifact(content["S3Bucket"], content["S3Key"])
    name = p.get("LayerName") or d.physical_name(logical_id, max_length=140)
    request: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": _placeholder_zip()}}
    for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
        if key in p:
            request[key] = p[key]
    arn = d.client("lambda").publish_layer_version(**request)["LayerVersionArn"]
    d.layer_dirs[arn] = directory
    return Created(arn, {"LayerVersionArn": arn})


def lambda_function(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("FunctionName") or d.physical_name(logical_id, max_length=64)
    code = p["Code"]
    if "ZipFile" in code:
        code_dir = d.scratch_dir() / logical_id
        code_dir.mkdir(parents=True, exist_ok=True)
        (code_dir / "index.py").write_text(code["ZipFile"])
    else:
        code_dir = d.artifact(code["S3Bucket"], code["S3Key"])
    if "Handler" not in p:
        raise DeployError(f"{logical_id}: only zip functions with a Handler can run in the sandbox")
    layer_arns: list[str] = list(p.get("Layers", []))
    unknown_layers = [arn for arn in layer_arns if arn not in d.layer_dirs]
    if unknown_layers:
        raise DeployError(f"{logical_id}: layers {unknown_layers} are not layers of this stack")
    environment = {key: text(value) for key, value in p.get("Environment", {}).get("Variables", {}).items()}
    role_arn = str(p["Role"])
    if d.iam is not None and d.iam.check_assume_role(
        "lambda.amazonaws.com", role_arn, lambda_assume_context(d)
    ):
        # CreateFunction's answer when Lambda cannot assume the role (Lambda API reference, CreateFunction).
        raise DeployError(
            f"{logical_id}: InvalidParameterValueException: The role defined for the function cannot be "
            f"assumed by Lambda ({role_arn})."
        )
    request = cfn_to_api(
        {**p, "FunctionName": name, "Code": {"ZipFile": _placeholder_zip()}},
        "lambda",
        "CreateFunction",
        drop=("Environment", "FileSystemConfigs", "RuntimeManagementConfig", "SnapStart", "Code"),
    )
    request["Code"] = {"ZipFile": _placeholder_zip()}
    request["Environment"] = {"Variables": environment}
    function = d.client("lambda").create_function(**request)
    d.lambdas.register(
        FunctionSpec(
            logical_id=logical_id,
            function_name=name,
            function_arn=function["FunctionArn"],
            handler=p["Handler"],
            code_dir=code_dir,
            layer_dirs=[d.layer_dirs[arn] for arn in layer_arns],
            environment=environment,
            memory_mb=int(p.get("MemorySize", 128)),
            timeout_seconds=int(p.get("Timeout", 3)),
            runtime=str(p.get("Runtime", "python3.12")),
            role_arn=role_arn,
        )
    )
    return Created(name, {"Arn": function["FunctionArn"]})


def lambda_permission(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    request = cfn_to_api({**p, "StatementId": logical_id}, "lambda", "AddPermission")
    d.client("lambda").add_permission(**request)
    return Created(logical_id)


def event_invoke_config(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    request = cfn_to_api(p, "lambda", "PutFunctionEventInvokeConfig")
    d.client("lambda").put_function_event_invoke_config(**request)
    destinations = p.get("DestinationConfig", {})
    changes: dict[str, Any] = {
        "on_failure_destination": destinations.get("OnFailure", {}).get("Destination"),
        "on_success_destination": destinations.get("OnSuccess", {}).get("Destination"),
    }
    if "MaximumRetryAttempts" in p:
        changes["maximum_retry_attempts"] = int(p["MaximumRetryAttempts"])
    if "MaximumEventAgeInSeconds" in p:
        changes["maximum_event_age_seconds"] = int(p["MaximumEventAgeInSeconds"])
    d.lambdas.update(p["FunctionName"], **changes)
    return Created(d.physical_name(logical_id))


def lambda_version(d: ResourceContext, _logical_id: str, p: dict[str, Any]) -> Created:
    version = d.client("lambda").publish_version(FunctionName=p["FunctionName"])
    return Created(version["FunctionArn"], {"Version": version["Version"]})


def lambda_alias(d: ResourceContext, _logical_id: str, p: dict[str, Any]) -> Created:
    alias = d.client("lambda").create_alias(
        FunctionName=p["FunctionName"], Name=p["Name"], FunctionVersion=text(p["FunctionVersion"])
    )
    return Created(alias["AliasArn"])


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("SANDBOX.txt", "The sandbox runs this function in-process from its CodeUri.\n")
    return buffer.getvalue()


def delete_layer_version(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    name, version = created.physical_id.rsplit(":", 2)[-2:]
    d.client("lambda").delete_layer_version(LayerName=name, VersionNumber=int(version))


def delete_lambda_function(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("lambda").delete_function(FunctionName=created.physical_id)


def delete_lambda_permission(d: ResourceContext, created: Created, p: dict[str, Any]) -> None:
    d.client("lambda").remove_permission(FunctionName=p["FunctionName"], StatementId=created.physical_id)


def delete_event_invoke_config(d: ResourceContext, _created: Created, p: dict[str, Any]) -> None:
    d.client("lambda").delete_function_event_invoke_config(FunctionName=p["FunctionName"])
