"""The kill switch: the SSM parameter the stack names in its output KillSwitchParameterName, whose
value is `pulled` (nothing new starts, running tasks are cancelled) or `released`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, error_code, explain
from remediator_cli.stack import Account, Stack

OUTPUT: Final = "KillSwitchParameterName"
State = Literal["pulled", "released"]
# PutParameter's Description holds at most 1024 characters (SSM API reference).
_DESCRIPTION_MAX: Final = 1024


@dataclass(frozen=True)
class SwitchState:
    parameter: str
    value: str
    changed_by: str
    changed_at: str
    version: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def caller_arn(account: Account) -> str:
    """Who is calling (STS GetCallerIdentity needs no permission)."""
    try:
        return str(account.client("sts").get_caller_identity()["Arn"])
    except (ClientError, BotoCoreError) as error:
        raise explain(
            error, doing="asking STS who is calling", action="sts:GetCallerIdentity", resource="*"
        ) from error


def read(account: Account, stack: Stack) -> SwitchState:
    """The switch's value, and who changed it when (the description the last change wrote)."""
    name = stack.output(OUTPUT)
    ssm = account.client("ssm")
    latest: dict[str, Any] | None = None
    try:
        for page in ssm.get_paginator("get_parameter_history").paginate(Name=name):
            for version in page.get("Parameters", []):
                latest = version
    except ClientError as error:
        raise _switch_error(error, name, "reading", "ssm:GetParameterHistory") from error
    except BotoCoreError as error:
        raise explain(
            error, doing=f"reading {name}", action="ssm:GetParameterHistory", resource=name
        ) from error
    if latest is None:
        raise _missing(name)
    modified = latest.get("LastModifiedDate")
    return SwitchState(
        parameter=name,
        value=str(latest.get("Value", "")),
        changed_by=_changed_by(str(latest.get("Description", ""))),
        changed_at=modified.isoformat() if isinstance(modified, datetime) else "",
        version=int(latest.get("Version", 0)),
    )


def set_switch(account: Account, stack: Stack, state: State, *, now: datetime | None = None) -> SwitchState:
    """Writes `state`, recording the caller and the time in the parameter's description."""
    name = stack.output(OUTPUT)
    ssm = account.client("ssm")
    who = caller_arn(account)
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    description = f"{state} by {who} at {when}"[:_DESCRIPTION_MAX]
    try:
        # The parameter must exist (the stack creates it): without Type a put cannot create one.
        ssm.get_parameter(Name=name)
        put = ssm.put_parameter(Name=name, Value=state, Description=description, Overwrite=True)
    except ClientError as error:
        raise _switch_error(error, name, "writing", "ssm:PutParameter") from error
    except BotoCoreError as error:
        raise explain(error, doing=f"writing {name}", action="ssm:PutParameter", resource=name) from error
    return SwitchState(name, state, description, when, int(put.get("Version", 0)))


def _changed_by(description: str) -> str:
    """The description a pause or resume wrote; the stack's own description of the parameter is not one."""
    return description if description.startswith(("pulled by ", "released by ")) else ""


def _missing(name: str) -> OperatorError:
    return OperatorError(
        f"the kill switch parameter {name} does not exist: deploy the stack again", Exit.NOT_FOUND
    )


def _switch_error(error: ClientError, name: str, doing: str, action: str) -> OperatorError:
    if error_code(error) == "ParameterNotFound":
        return _missing(name)
    return explain(error, doing=f"{doing} {name}", action=action, resource=name)
