"""IAM's decision on one request: the caller's identity policies and the resource's policy, evaluated as the IAM
user guide documents it. Pure: no AWS, no moto, no I/O.

Sources (IAM user guide unless named):
- "Policy evaluation logic" and "Policy evaluation for requests within a single account": an explicit Deny in
  any applicable policy wins; within one account an Allow in either the identity-based or the resource-based
  policy is enough.
- "How AWS enforcement code logic evaluates requests" (reference_policies_evaluation-logic_policy-eval-denyallow):
  an IAM role trust policy and a KMS key policy must themselves allow the principal; when they name the
  account instead, the identity-based policies must allow too.
- "AWS JSON policy elements: Principal": naming an account (`arn:aws:iam::ACCOUNT:root` or the bare id)
  delegates to the account's identity-based policies; the two forms behave the same; a role ARN, an
  assumed-role session ARN, a service principal and "*" name the caller directly; no partial wildcards.
- AWS KMS developer guide, "Default key policy": the statement naming the account root is what "enables IAM
  policies" for the key.
- "Cross-account policy evaluation logic": across accounts both the caller's identity-based policy and the
  resource-based policy must allow. Kept to that one rule here.
- "IAM JSON policy elements: NotAction / NotResource": match everything except the listed actions/resources.
  Action names are not case-sensitive; resource ARNs are (Resource element page).
- "Troubleshoot access denied error messages": "with an explicit deny in a <type> policy" and "because no
  <type> policy allows the <action> action", type being identity-based or resource-based.

Anything not implemented (NotPrincipal, policy variables, Federated principals, other operators, unknown
elements) raises UnsupportedPolicyError before any request is matched, so it is never silently ignored.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sandbox.iam.conditions import (
    Clause,
    ContextValue,
    UnsupportedPolicyError,
    conditions_hold,
    parse_condition,
    wildcard_match,
)

__all__ = ["Caller", "Decision", "Policy", "Request", "UnsupportedPolicyError", "evaluate"]

Policy = Mapping[str, Any]

_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition"}
)
_ACCOUNT_ROOT = re.compile(r"arn:[a-z-]+:iam::(\d{12}):root")
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str | None
    role_arn: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Request:
    caller: Caller
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class _Named(Enum):
    """How a resource-policy statement's Principal names the caller."""

    NOT = "not named"
    DIRECTLY = "named directly"
    BY_ACCOUNT = "named through its account"


@dataclass(frozen=True)
class _Statement:
    where: str
    allow: bool
    actions: tuple[str, ...]
    actions_negated: bool
    resources: tuple[str, ...] | None
    resources_negated: bool
    principals: Mapping[str, tuple[str, ...]] | None
    conditions: tuple[Clause, ...]

    def applies(self, request: Request) -> bool:
        matched = any(wildcard_match(a, request.action, ignore_case=True) for a in self.actions)
        if matched == self.actions_negated:
            return False
        if self.resources is not None:
            matched = any(wildcard_match(r, request.resource) for r in self.resources)
            if matched == self.resources_negated:
                return False
        return conditions_hold(self.conditions, request.context)

    def names(self, caller: Caller) -> _Named:
        assert self.principals is not None
        named = _Named.NOT
        for kind, values in self.principals.items():
            for value in values:
                if value == "*" or (kind == "Service" and value == caller.service):
                    return _Named.DIRECTLY
                if kind == "AWS" and value in (caller.arn, caller.role_arn):
                    return _Named.DIRECTLY
                if kind == "AWS" and caller.account is not None and _account_of(value) == caller.account:
                    named = _Named.BY_ACCOUNT
        return named


def _account_of(principal: str) -> str | None:
    if _ACCOUNT_ID.fullmatch(principal):
        return principal
    root = _ACCOUNT_ROOT.fullmatch(principal)
    return root.group(1) if root else None


def _strings(value: Any, element: str, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise UnsupportedPolicyError(f"{where}: {element} must be a string or a non-empty list of strings")
    return tuple(items)


def _all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_strings(item)


def _principals(raw: Any, where: str) -> Mapping[str, tuple[str, ...]]:
    if raw == "*":
        return {"AWS": ("*",)}
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicyError(f'{where}: Principal must be "*" or an object of AWS/Service principals')
    principals: dict[str, tuple[str, ...]] = {}
    for kind, value in raw.items():
        if kind not in ("AWS", "Service"):
            raise UnsupportedPolicyError(f"{where}: Principal type {kind} is not supported")
        values = _strings(value, f"Principal {kind}", where)
        partial = [v for v in values if v != "*" and ("*" in v or "?" in v)]
        if partial:
            # The Principal element page: wildcards cannot match part of a principal name or ARN.
            raise UnsupportedPolicyError(f"{where}: Principal {kind} {partial[0]} uses a partial wildcard")
        principals[kind] = values
    return principals


def _pair(raw: Mapping[str, Any], element: str, where: str) -> tuple[tuple[str, ...] | None, bool]:
    negated_element = f"Not{element}"
    if element in raw and negated_element in raw:
        raise UnsupportedPolicyError(f"{where}: {element} and {negated_element} cannot both be present")
    if element in raw:
        return _strings(raw[element], element, where), False
    if negated_element in raw:
        return _strings(raw[negated_element], negated_element, where), True
    return None, False


def _statement(raw: Any, index: int, *, resource_policy: bool) -> _Statement:
    sid = raw.get("Sid") if isinstance(raw, Mapping) else None
    where = f"statement {sid!r}" if sid else f"statement {index} (no Sid)"
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicyError(f"{where}: a statement must be an object")
    for key in raw:
        if key == "NotPrincipal":
            raise UnsupportedPolicyError(f"{where}: NotPrincipal is not supported")
        if key not in _STATEMENT_KEYS:
            raise UnsupportedPolicyError(f"{where}: element {key} is not supported")
    variables = [s for s in _all_strings(dict(raw)) if "${" in s]
    if variables:
        raise UnsupportedPolicyError(f"{where}: policy variables are not supported ({variables[0]})")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise UnsupportedPolicyError(f"{where}: Effect must be Allow or Deny, not {raw.get('Effect')!r}")
    actions, actions_negated = _pair(raw, "Action", where)
    if actions is None:
        raise UnsupportedPolicyError(f"{where}: Action or NotAction is required")
    resources, resources_negated = _pair(raw, "Resource", where)
    if resources is None and not resource_policy:
        raise UnsupportedPolicyError(f"{where}: an identity-based policy needs Resource or NotResource")
    if resource_policy != ("Principal" in raw):
        needed = "needs a Principal" if resource_policy else "cannot name a Principal"
        raise UnsupportedPolicyError(
            f"{where}: a {'resource' if resource_policy else 'identity'}-based policy {needed}"
        )
    return _Statement(
        where=where,
        allow=raw["Effect"] == "Allow",
        actions=actions,
        actions_negated=actions_negated,
        resources=resources,
        resources_negated=resources_negated,
        principals=_principals(raw["Principal"], where) if resource_policy else None,
        conditions=parse_condition(raw.get("Condition", {}), where),
    )


def _statements(policy: Policy, *, resource_policy: bool) -> list[_Statement]:
    unknown = sorted(set(policy) - _POLICY_KEYS)
    if unknown:
        raise UnsupportedPolicyError(f"policy element {unknown[0]} is not supported")
    if "Statement" not in policy:
        raise UnsupportedPolicyError("a policy needs a Statement element")
    raw = policy["Statement"]
    raws = raw if isinstance(raw, list) else [raw]
    return [_statement(item, index, resource_policy=resource_policy) for index, item in enumerate(raws)]


def _denied(reason: str) -> Decision:
    return Decision(False, reason)


def evaluate(
    request: Request,
    *,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    resource_account: str | None = None,
    resource_policy_required: bool = False,
) -> Decision:
    """Whether AWS allows `request`, with the reason AWS would print in its AccessDenied message.

    `resource_policy_required` is for the resources whose own policy must allow (a KMS key policy, a role's
    trust policy for sts:AssumeRole); without it (SNS topic, SQS queue, Lambda function policies) an Allow in
    the identity-based policies is enough within one account.
    """
    caller = request.caller
    if caller.service is not None and identity_policies:
        raise ValueError(f"service principal {caller.service} has no identity-based policies")
    identity = [s for p in identity_policies for s in _statements(p, resource_policy=False)]
    resource = _statements(resource_policy, resource_policy=True) if resource_policy is not None else []
    action = request.action

    identity_applying = [s for s in identity if s.applies(request)]
    resource_applying = [(s, s.names(caller)) for s in resource if s.applies(request)]
    resource_applying = [(s, named) for s, named in resource_applying if named is not _Named.NOT]

    if any(not s.allow for s in identity_applying):
        return _denied("with an explicit deny in an identity-based policy")
    if any(not s.allow for s, _ in resource_applying):
        return _denied("with an explicit deny in a resource-based policy")

    identity_allows = any(s.allow for s in identity_applying)
    resource_named = {named for s, named in resource_applying if s.allow}
    no_identity = _denied(f"because no identity-based policy allows the {action} action")
    no_resource = _denied(f"because no resource-based policy allows the {action} action")
    allowed = Decision(True, f"allowed: {action} on {request.resource}")

    cross_account = caller.account is not None and resource_account not in (None, caller.account)
    if cross_account:
        if not resource_named:
            return no_resource
        return allowed if identity_allows else no_identity
    if _Named.DIRECTLY in resource_named:
        return allowed
    if resource_policy_required:
        if _Named.BY_ACCOUNT not in resource_named:
            return no_resource
        return allowed if identity_allows else no_identity
    if identity_allows:
        return allowed
    return no_resource if caller.service is not None else no_identity
