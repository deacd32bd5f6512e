"""Who is making a call: the caller each of the sandbox's runtimes acts as, held per thread of work.

A function runs as a session of its execution role, a state machine's tasks as a session of the state
machine's role, a mitigation action as a session of the action's role; a service delivering to a
topic, queue or function acts as its service principal. Calls made with no caller (a test, the
deployer, the sandbox itself) are the account's operator and are not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from sandbox.iam.evaluation import Caller

_CURRENT: Final[ContextVar[Caller | None]] = ContextVar("sandbox_caller", default=None)


def role_session(role_arn: str, session_name: str) -> Caller:
    """The caller a role's session is: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION (the role's path
    is not part of a session ARN; IAM user guide, "IAM identifiers")."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn!r}")
    account = parts[4]
    name = parts[5].rsplit("/", 1)[-1]
    return Caller(
        arn=f"arn:{parts[1]}:sts::{account}:assumed-role/{name}/{session_name[:64]}",
        account=account,
        role_arn=role_arn,
    )


def service_principal(name: str) -> Caller:
    return Caller(arn=name, account=None, service=name)


def current_caller() -> Caller | None:
    return _CURRENT.get()


@contextmanager
def acting_as(caller: Caller | None) -> Iterator[None]:
    """Calls made by this thread meanwhile are `caller`'s (None: the operator's)."""
    token = _CURRENT.set(caller)
    try:
        yield
    finally:
        _CURRENT.reset(token)
