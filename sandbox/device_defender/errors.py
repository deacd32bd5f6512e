"""Service errors as the IoT API returns them: error code, HTTP status and message."""

from __future__ import annotations

from typing import Final

# Statuses as declared by the error shapes of botocore's IoT model; used when an operation's model
# does not list the error (the emulator never invents a status the model contradicts).
DEFAULT_STATUS: Final[dict[str, int]] = {
    "InvalidRequestException": 400,
    "TaskAlreadyExistsException": 400,
    "ThrottlingException": 400,
    "ResourceNotFoundException": 404,
    "NotConfiguredException": 404,
    "ResourceAlreadyExistsException": 409,
    "VersionsLimitExceededException": 409,
    "LimitExceededException": 410,
    "InternalFailureException": 500,
    "InternalException": 500,
    "ServiceUnavailableException": 503,
}


class ServiceError(Exception):
    """An error the emulated service returns; becomes a botocore ClientError for the caller."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else DEFAULT_STATUS.get(code, 400)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequestException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message)


class ContractViolation(AssertionError):
    """The emulator produced a response its own service model forbids: a bug in the emulator."""
