"""What botocore does with an error answer, played for injected faults: the client's retry policy
(mode, attempts, retryable codes and statuses, backoff; botocore's `retryhandler` and `retries/standard`)
and the error response its parser would have produced."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any, Final, cast

from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel

_LEGACY_RETRYABLE_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
    }
)
_LEGACY_RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504, 509})
_STANDARD_RETRYABLE_CODES: Final = frozenset(
    {
        *_LEGACY_RETRYABLE_CODES,
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_STANDARD_RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})
# Statuses for error codes the service model does not declare.
_UNMODELLED_STATUSES: Final = {
    "Throttling": 400,
    "ThrottlingException": 429,
    "TooManyRequestsException": 429,
    "InternalFailure": 500,
    "InternalFailureException": 500,
    "InternalServerError": 500,
    "InternalServerException": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
}


def retry_policy(context: dict[str, Any], model: OperationModel) -> tuple[str, int]:
    config = context.get("client_config")
    retries: dict[str, Any] = dict(getattr(config, "retries", None) or {})
    mode = str(retries.get("mode") or "legacy")
    if "total_max_attempts" in retries:
        return mode, int(retries["total_max_attempts"])
    if "max_attempts" in retries:
        return mode, int(retries["max_attempts"]) + 1
    if mode == "legacy":
        return mode, 10 if model.service_model.service_name == "dynamodb" else 5
    return mode, 3


def retryable(mode: str, code: str, status: int) -> bool:
    if mode == "legacy":
        return code in _LEGACY_RETRYABLE_CODES or status in _LEGACY_RETRYABLE_STATUSES
    return code in _STANDARD_RETRYABLE_CODES or status in _STANDARD_RETRYABLE_STATUSES


def backoff(mode: str, attempt: int) -> float:
    if mode == "legacy":
        return float(random.random() * 2 ** (attempt - 1))
    return float(min(20.0, random.random() * 2**attempt))


def _error_shape_metadata(model: OperationModel, error: str) -> dict[str, Any] | None:
    for shape in model.service_model.error_shapes:
        metadata: dict[str, Any] = dict(shape.metadata.get("error") or {})
        if error in (shape.name, metadata.get("code")):
            metadata.setdefault("code", shape.name)
            return metadata
    return None


def error_status(model: OperationModel, error: str) -> int:
    metadata = _error_shape_metadata(model, error)
    if metadata is not None and metadata.get("httpStatusCode"):
        return int(metadata["httpStatusCode"])
    return _UNMODELLED_STATUSES.get(error, 400)


def error_code(model: OperationModel, error: str) -> str:
    metadata = _error_shape_metadata(model, error)
    return str(metadata["code"]) if metadata is not None else error


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def error_response(
    request: dict[str, Any], code: str, status: int, message: str, attempt: int
) -> tuple[AWSResponse, dict[str, Any]]:
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": code}
    http = AWSResponse(str(request.get("url", "")), status, cast(Any, headers), _EmptyBody())
    parsed = {
        "Error": {"Code": code, "Message": message},
        "message": message,
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": attempt - 1,
        },
    }
    return http, parsed
