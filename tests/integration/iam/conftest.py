"""The IAM mutation suite: what a denial must look like, shared by its tests."""

from __future__ import annotations

import fnmatch
from typing import Any, Final

from sandbox.iam.enforcement import Denial
from tests.integration.iam.scenarios import Run

# The codes AWS answers a refused request with: IAM's AccessDenied family per service, SNS's
# AuthorizationError, and the errors of a service that could not use the resource's KMS key.
ACCESS_DENIED_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "KMSAccessDenied",
        "KMS.AccessDeniedException",
    }
)


def denials_of(run: Run, role: str, actions: tuple[str, ...] | str) -> list[Denial]:
    """The run's denials of one of `actions` to a session of the stack's role `role`."""
    wanted = {actions} if isinstance(actions, str) else set(actions)
    name = run.role_arn(role).rsplit("/", 1)[-1]
    return [
        d
        for d in run.sb.iam.denials
        if f":assumed-role/{name}/" in d.caller
        and any(fnmatch.fnmatchcase(d.action.lower(), a.lower()) for a in wanted)
    ]


def resolve(run: Run, value: Any) -> str:
    """A template Resource value as the deployed stack's ARN pattern."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return str(run.stack.get_att(target, attribute))
    text = str(value["Fn::Sub"])
    for name, actual in {
        "AWS::Partition": "aws",
        "AWS::Region": run.sb.region,
        "AWS::AccountId": run.sb.account_id,
        "AWS::StackName": run.stack.name,
    }.items():
        text = text.replace("${" + name + "}", actual)
    return text
