"""Validation errors in plain words, for rejection reasons a person reads.

Pydantic's own messages carry its internals: locations hold schema tags (`is-subclass[BaseModel]`,
`function-after[...]`, union members such as `str`), and messages name its types. Here each error
is described by its location in the message (field names and item numbers only) and a phrase
chosen by its error type; an error type without a phrase gets a neutral one, never pydantic's text.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

MAX_ERRORS_IN_REASON: Final = 3
# A location part that names a field of ours: an identifier, as our aliases and the SNS fields are.
_FIELD: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Schema tags pydantic puts into locations next to field names (union members, plain types).
_SCHEMA_TAGS: Final = frozenset(
    {"str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "set", "frozenset", "none", "json"}
)
# The discriminator tags of the inbound message union (models.notifications.InboundMessage).
MESSAGE_TAGS: Final = frozenset({"audit", "finding", "detect"})


def _ctx(item: ErrorDetails, name: str) -> Any:
    context = item.get("ctx") or {}
    return context.get(name)


def _own_words(item: ErrorDetails) -> str:
    """A ValueError raised by one of our validators: its text is ours, already plain."""
    error = _ctx(item, "error")
    return str(error) if error is not None else "is not valid"


_PHRASES: Final[Mapping[str, Callable[[ErrorDetails], str]]] = {
    "missing": lambda _: "is missing",
    "string_type": lambda _: "should be text",
    "string_unicode": lambda _: "is not valid Unicode text",
    "string_pattern_mismatch": lambda _: "has characters or a format that are not allowed here",
    "string_too_short": lambda i: f"should have at least {_ctx(i, 'min_length')} characters",
    "string_too_long": lambda i: f"should have at most {_ctx(i, 'max_length')} characters",
    "too_short": lambda i: f"should have at least {_ctx(i, 'min_length')} items",
    "too_long": lambda i: f"should have at most {_ctx(i, 'max_length')} items",
    "int_type": lambda _: "should be a whole number",
    "int_parsing": lambda _: "should be a whole number",
    "int_from_float": lambda _: "should be a whole number",
    "float_type": lambda _: "should be a number",
    "float_parsing": lambda _: "should be a number",
    "bool_type": lambda _: "should be true or false",
    "bool_parsing": lambda _: "should be true or false",
    "list_type": lambda _: "should be a list",
    "dict_type": lambda _: "should be an object",
    "model_type": lambda _: "should be an object",
    "model_attributes_type": lambda _: "should be an object",
    "literal_error": lambda i: f"should be one of {_ctx(i, 'expected')}",
    "enum": lambda i: f"should be one of {_ctx(i, 'expected')}",
    "greater_than": lambda i: f"should be greater than {_ctx(i, 'gt')}",
    "greater_than_equal": lambda i: f"should be at least {_ctx(i, 'ge')}",
    "less_than": lambda i: f"should be less than {_ctx(i, 'lt')}",
    "less_than_equal": lambda i: f"should be at most {_ctx(i, 'le')}",
    "extra_forbidden": lambda _: "is not expected here",
    "json_invalid": lambda i: f"is not valid JSON ({_ctx(i, 'error')})",
    "json_type": lambda _: "should be JSON text",
    "value_error": _own_words,
    "assertion_error": _own_words,
    "union_tag_invalid": lambda _: "is not a kind of message the service knows",
    "union_tag_not_found": lambda _: "is not a kind of message the service knows",
    "unrecognised_message": lambda _: "is not an audit-completion, per-finding or Detect message",
    "is_subclass_of": lambda _: "has the wrong type",
    "is_instance_of": lambda _: "has the wrong type",
    "none_required": lambda _: "should be empty (null)",
    "url_type": lambda _: "should be a URL",
    "url_parsing": lambda _: "is not a valid URL",
    "url_syntax_violation": lambda _: "is not a valid URL",
    "url_too_long": lambda i: f"should be a URL of at most {_ctx(i, 'max_length')} characters",
    "url_scheme": lambda i: f"should be a URL starting with {_ctx(i, 'expected_schemes')}",
    "datetime_type": lambda _: "should be a date and time",
    "datetime_parsing": lambda _: "should be a date and time",
    "datetime_from_date_parsing": lambda _: "should be a date and time",
    "timezone_aware": lambda _: "should be a date and time with a time zone",
    "uuid_type": lambda _: "should be a UUID",
    "uuid_parsing": lambda _: "should be a UUID",
    "recursion_loop": lambda _: "is nested too deeply",
}


def json_kind(value: Any) -> str:
    """What a value is, in JSON's words (null, a number, text, ...), never a Python type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else "not JSON"


def location(loc: tuple[int | str, ...], *, drop_leading: frozenset[str] = MESSAGE_TAGS) -> str:
    """`auditDetails item 3, checkName`: field names and 1-based item numbers; schema tags dropped."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"item {part + 1}")
        elif index == 0 and part in drop_leading:
            continue
        elif _FIELD.fullmatch(part) and part not in _SCHEMA_TAGS:
            parts.append(part)
    return ", ".join(parts)


def phrase(item: ErrorDetails) -> str:
    describe = _PHRASES.get(item["type"])
    return describe(item) if describe is not None else "is not valid"


def describe(error: ValidationError, *, limit: int = MAX_ERRORS_IN_REASON) -> str:
    """The first `limit` distinct problems, `<where>: <what>`, then how many more there are.

    A union reports one error per member at the same place (`Message` as `str`, and as a model
    class); only the first is kept, so a place is described once.
    """
    described: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        where = location(item["loc"])
        described.setdefault(where, phrase(item))
    parts = [f"{where}: {what}" if where else f"the message {what}" for where, what in described.items()]
    more = len(parts) - limit
    return "; ".join(parts[:limit]) + (f" (and {more} more)" if more > 0 else "")
