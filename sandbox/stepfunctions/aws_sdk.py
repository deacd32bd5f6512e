"""`aws-sdk:*` tasks as Step Functions runs them, which moto 5.2.5's interpreter does not.

- Parameters are written in PascalCase; they are converted to the service model's member names, and
  response members back to PascalCase, recursively (map keys are data and stay as they are).
- Errors are named `<Service>.<Code>` in PascalCase (`Iot.LimitExceededException`).

Source: https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import cache
from typing import Any, Final

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.response import StreamingBody

_SERVICE_ERROR_NAMES: Final = {"dynamodb": "DynamoDb", "sfn": "Sfn", "stepfunctions": "Sfn"}


class AwsSdkParameterError(Exception):
    """An aws-sdk task used a parameter name the service model does not have."""


@cache
def _service_model(service_name: str) -> Any:
    return botocore.session.get_session().get_service_model(service_name)


def operation_model(service_name: str, api_action: str) -> OperationModel:
    model = _service_model(service_name)
    wanted = api_action[:1].upper() + api_action[1:]
    for name in model.operation_names:
        if name == wanted or name.lower() == api_action.lower():
            return model.operation_model(name)  # type: ignore[no-any-return]
    raise AwsSdkParameterError(f"{service_name} has no API action {api_action!r}")


def pascal_case(member: str) -> str:
    return member[:1].upper() + member[1:]


def _member_for(key: str, members: dict[str, Shape]) -> str | None:
    if key in members:
        return key
    for member in members:
        if pascal_case(member) == key:
            return member
    lowered = key.lower()
    for member in members:
        if member.lower() == lowered:
            return member
    return None


def to_api_members(value: Any, shape: Shape | None, path: str = "") -> Any:
    """PascalCase request parameters -> the service model's member names, recursively."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            member = _member_for(key, dict(shape.members))
            if member is None:
                where = f"{path}.{key}" if path else key
                raise AwsSdkParameterError(
                    f"The field '{where}' is not supported by the API (shape {shape.name}); "
                    f"known members: {sorted(pascal_case(m) for m in shape.members)}"
                )
            converted[member] = to_api_members(item, shape.members[member], f"{path}.{key}".lstrip("."))
        return converted
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_api_members(item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_api_members(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _iso_timestamp(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="milliseconds") if value.microsecond else value.isoformat()
    return text + "Z"


def to_sfn_members(value: Any, shape: Shape | None) -> Any:
    """API response members -> PascalCase, recursively; timestamps as ISO-8601 strings."""
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    if isinstance(value, datetime.datetime):
        return _iso_timestamp(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = dict(shape.members)
        return {pascal_case(key): to_sfn_members(item, members.get(key)) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_sfn_members(item, shape.value) for key, item in value.items()}
    if isinstance(value, list):
        member = shape.member if isinstance(shape, ListShape) else None
        return [to_sfn_members(item, member) for item in value]
    if isinstance(value, dict):
        return {pascal_case(key): to_sfn_members(item, None) for key, item in value.items()}
    return value


def sfn_service_name(service_name: str) -> str:
    return _SERVICE_ERROR_NAMES.get(service_name.lower(), pascal_case(service_name))


def sfn_error_name(service_name: str, error_code: str) -> str:
    name = error_code if error_code.endswith("Exception") else error_code + "Exception"
    return f"{sfn_service_name(service_name)}.{name}"


def install_aws_sdk(patch: Callable[[Any, str, Any], None]) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    task_class = aws_sdk.StateTaskServiceAwsSdk
    original_eval = task_class.__dict__["_eval_service_task"]
    original_from_error = task_class.__dict__["_from_error"]

    def _eval_service_task(
        task: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        service = task._get_boto_service_name()
        operation = operation_model(service, task.resource.api_action)
        converted = to_api_members(normalised_parameters, operation.input_shape)
        normalised_parameters.clear()
        normalised_parameters.update(converted)
        original_eval(task, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack.pop()
        env.stack.append(to_sfn_members(response, operation.output_shape))

    def _from_error(task: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            service = sfn_service_name(task.resource.api_name)
            error = sfn_error_name(task.resource.api_name, str(ex.response["Error"].get("Code", "Unknown")))
            metadata = ex.response.get("ResponseMetadata", {})
            cause = (
                f"{ex.response['Error'].get('Message', '')} (Service: {service}, "
                f"Status Code: {metadata.get('HTTPStatusCode')}, Request ID: {metadata.get('RequestId')})"
            )
            return task._get_task_failure_event(env=env, error=error, cause=cause)
        if isinstance(ex, AwsSdkParameterError):
            return task._get_task_failure_event(env=env, error="States.Runtime", cause=str(ex))
        return original_from_error(task, env, ex)

    patch(task_class, "_eval_service_task", _eval_service_task)
    patch(task_class, "_from_error", _from_error)
