"""IAM's evaluation of the template's resource and trust policies for a request made by an AWS service.

Only what these documents use: Allow/Deny, service principals, action wildcards and the String/Arn/Bool
condition operators. A condition on a key the request does not carry does not match (IAM's rule for every
operator without IfExists), which is why a condition on a key AWS never sends denies silently.
"""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.unit.template.stack import Statement


@dataclass(frozen=True)
class ServiceRequest:
    service: str
    action: str
    context: Mapping[str, str] = field(default_factory=dict)


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


_OPERATORS = {
    "StringEquals": lambda expected, value: value == expected,
    "StringLike": _like,
    "ArnEquals": lambda expected, value: value == expected,
    "ArnLike": _like,
    "Bool": lambda expected, value: value.lower() == expected.lower(),
}


def _condition_holds(statement: Statement, context: Mapping[str, str]) -> bool:
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, entries in statement.conditions.items():
        if operator not in _OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here")
        for key, expected in entries.items():
            value = lowered.get(key.lower())
            values = expected if isinstance(expected, list) else [expected]
            if value is None or not any(_OPERATORS[operator](str(item), value) for item in values):
                return False
    return True


def _applies(statement: Statement, request: ServiceRequest) -> bool:
    services = statement.principals.get("Service", frozenset()) | statement.principals.get("*", frozenset())
    return (
        (request.service in services or "*" in services)
        and any(fnmatch.fnmatchcase(request.action.lower(), a.lower()) for a in statement.actions)
        and _condition_holds(statement, request.context)
    )


def allowed(statements: list[Statement], request: ServiceRequest) -> bool:
    """True when an Allow applies and no Deny does (a service principal needs the resource policy's Allow)."""
    matching = [statement for statement in statements if _applies(statement, request)]
    return any(s.is_allow for s in matching) and not any(s.effect == "Deny" for s in matching)
