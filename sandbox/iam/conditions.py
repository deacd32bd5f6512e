"""The `Condition` element of an IAM policy: the operators the sandbox's policies use, evaluated as the IAM user
guide documents them, and a plain error for every other one.

Sources (IAM user guide):
- "IAM JSON policy elements: Condition operators" (reference_policies_elements_condition_operators): a key the
  request context lacks makes the condition false; for an operator that requires the key *not* to match
  (StringNotEquals, StringNotLike, ArnNotLike, ...) a missing key makes it true; `...IfExists` is true when the
  key is missing; `Null` tests presence. ArnEquals and ArnLike share one row: case-sensitive, each of the six
  colon-delimited components matched separately, `*` and `?` allowed in each.
- "Conditions with multiple context keys or values" (reference_policies_multi-value-conditions): operators and
  keys are ANDed, several values for one key are ORed, and for a negated operator NORed.
- "Single-valued vs. multivalued context keys" (reference_policies_condition-single-vs-multi-valued-context-keys):
  `ForAllValues` is true when every request value matches a policy value, and also when the key is missing or
  empty; `ForAnyValue` when at least one does, and false when the key is missing.
- "IAM JSON policy elements: Condition": context key names are not case-sensitive.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ContextValue = str | bool | Sequence[str]
Context = Mapping[str, ContextValue]


class UnsupportedPolicyError(ValueError):
    """A policy uses an element, operator or value this evaluator does not implement."""


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards are only `*` (any run of characters) and `?` (one character); everything else is literal.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether `value` matches the IAM wildcard `pattern` as a whole."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def _arn_match(pattern: str, value: str) -> bool:
    # The sixth component (the resource) keeps its own colons: "function:name:alias" is one component.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_Matcher = Callable[[str, str], bool]

# base operator -> (match of one policy value against one request value, negated)
_OPERATORS: dict[str, tuple[_Matcher, bool]] = {
    "StringEquals": (lambda expected, actual: actual == expected, False),
    "StringNotEquals": (lambda expected, actual: actual == expected, True),
    "StringEqualsIgnoreCase": (lambda expected, actual: actual.lower() == expected.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda expected, actual: actual.lower() == expected.lower(), True),
    "StringLike": (wildcard_match, False),
    "StringNotLike": (wildcard_match, True),
    "ArnEquals": (_arn_match, False),
    "ArnLike": (_arn_match, False),
    "ArnNotEquals": (_arn_match, True),
    "ArnNotLike": (_arn_match, True),
    "Bool": (lambda expected, actual: actual.lower() == expected.lower(), False),
}
_SET_OPERATORS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class Clause:
    """One condition key under one operator, with the policy's values for it."""

    operator: str
    base: str
    key: str
    values: tuple[str, ...]
    set_operator: str | None
    if_exists: bool

    def holds(self, context: Context) -> bool:
        present = _lookup(context, self.key)
        if self.base == "Null":
            # "true": the key is absent; "false": it is present. Several values are ORed.
            return any((value.lower() == "true") == (present is None) for value in self.values)
        if present is None:
            if self.if_exists or self.set_operator == "ForAllValues":
                return True
            if self.set_operator == "ForAnyValue":
                return False
            return _OPERATORS[self.base][1]
        match, negated = _OPERATORS[self.base]

        def one(actual: str) -> bool:
            matched = any(match(expected, actual) for expected in self.values)
            return not matched if negated else matched

        if self.set_operator == "ForAllValues":
            return all(one(actual) for actual in present)
        if self.set_operator == "ForAnyValue":
            return any(one(actual) for actual in present)
        if len(present) != 1:
            raise UnsupportedPolicyError(
                f"condition {self.operator} on {self.key} gets {len(present)} values from the request; "
                "a multivalued key needs ForAnyValue: or ForAllValues:"
            )
        return one(present[0])


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise UnsupportedPolicyError(f"{where}: condition value {value!r} is not a string or a boolean")


def _lookup(context: Context, key: str) -> tuple[str, ...] | None:
    """The request's values for `key` (names compared case-insensitively); None when missing or empty."""
    for name, value in context.items():
        if name.lower() == key.lower():
            if isinstance(value, (str, bool)):
                return (_as_text(value, f"request context key {name}"),)
            values = tuple(_as_text(item, f"request context key {name}") for item in value)
            return values or None
    return None


def _parse_operator(operator: str, where: str) -> tuple[str | None, str, bool]:
    set_operator, _, name = operator.rpartition(":")
    if set_operator and set_operator not in _SET_OPERATORS:
        raise UnsupportedPolicyError(f"{where}: condition set operator {set_operator} is not supported")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name.removesuffix("IfExists") if if_exists else name
    if base == "Null":
        if set_operator or if_exists:
            raise UnsupportedPolicyError(f"{where}: condition operator {operator} is not supported")
    elif base not in _OPERATORS:
        raise UnsupportedPolicyError(f"{where}: condition operator {operator} is not supported")
    return set_operator or None, base, if_exists


def parse_condition(condition: Any, where: str) -> tuple[Clause, ...]:
    """The clauses of a statement's `Condition` element, every operator checked before any request is seen."""
    if not isinstance(condition, Mapping):
        raise UnsupportedPolicyError(f"{where}: Condition must be an object of operators")
    clauses: list[Clause] = []
    for operator, entries in condition.items():
        set_operator, base, if_exists = _parse_operator(operator, where)
        if not isinstance(entries, Mapping):
            raise UnsupportedPolicyError(f"{where}: condition operator {operator} must map keys to values")
        for key, raw in entries.items():
            items = raw if isinstance(raw, list) else [raw]
            values = tuple(_as_text(item, where) for item in items)
            clauses.append(Clause(operator, base, key, values, set_operator, if_exists))
    return tuple(clauses)


def conditions_hold(clauses: Sequence[Clause], context: Context) -> bool:
    return all(clause.holds(context) for clause in clauses)
