"""Two facts every part of template evaluation shares: `AWS::NoValue`, and how a scalar becomes text."""

from typing import Any, Final


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


def text(value: Any) -> str:
    """A scalar as CloudFormation writes it into a string (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
