"""What the command line says when it cannot do what was asked: one line that names the fix, and an
exit code a script can branch on (listed in the README)."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


class Exit(IntEnum):
    OK = 0
    AWS_ERROR = 1
    # Typer (Click) exits with 2 on a bad command line; a bad value the CLI finds itself does too.
    BAD_INPUT = 2
    NOT_ALLOWED = 3
    NOT_FOUND = 4


class OperatorError(Exception):
    """A refusal the operator can act on: the message is the whole line printed."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.code = code


# Error codes the services return when IAM refuses a call (SSM, DynamoDB, Step Functions, IoT:
# AccessDeniedException; STS, CloudFormation: AccessDenied).
_ACCESS_DENIED: Final = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# IAM's refusal message: "User: ARN is not authorized to perform: ACTION on resource: RESOURCE ...".
_REFUSAL: Final = re.compile(
    r"not authorized to perform: (?P<action>\S+)(?: on resource: (?P<resource>\S+))?"
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def not_allowed(action: str, resource: str) -> OperatorError:
    return OperatorError(
        f"not allowed: {action} on {resource} (ask for the operator policy)", Exit.NOT_ALLOWED
    )


def explain(error: BotoCoreError | ClientError, *, doing: str, action: str, resource: str) -> OperatorError:
    """The line for a failed call made while `doing` (the IAM action and resource it needs, used when
    IAM's message does not name them)."""
    if isinstance(error, NoCredentialsError):
        return OperatorError(
            "no AWS credentials found (set AWS_PROFILE, or run `aws configure` or `aws sso login`)",
            Exit.NOT_FOUND,
        )
    if isinstance(error, NoRegionError):
        return OperatorError("no AWS Region set (set AWS_REGION or the profile's region)", Exit.NOT_FOUND)
    if isinstance(error, ClientError) and error_code(error) in _ACCESS_DENIED:
        refusal = _REFUSAL.search(str(error.response.get("Error", {}).get("Message", "")))
        if refusal is not None:
            return not_allowed(refusal["action"], refusal["resource"] or resource)
        return not_allowed(action, resource)
    return OperatorError(f"{doing} failed: {error}", Exit.AWS_ERROR)
