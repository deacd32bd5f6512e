"""A template's Conditions section: each condition evaluated once, on demand.

Source: the CloudFormation User Guide, "Condition functions" (Fn::Equals, Fn::Not, Fn::And, Fn::Or and
a `Condition` reference to another condition).
"""

from collections.abc import Callable, Mapping
from typing import Any, Final

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.values import text

CONDITION_FUNCTIONS: Final = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not")


def _comparable(value: Any) -> Any:
    return [text(item) for item in value] if isinstance(value, list) else text(value)


class Conditions:
    def __init__(self, declared: Mapping[str, Any], resolve: Callable[[Any], Any]) -> None:
        self._declared = dict(declared)
        self._resolve = resolve
        self._values: dict[str, bool] = {}

    def evaluate_all(self) -> dict[str, bool]:
        """Every declared condition, so that a wrong one fails before anything is created."""
        return {name: self.value(name) for name in self._declared}

    def value(self, name: str) -> bool:
        if name not in self._values:
            if name not in self._declared:
                raise DeployError(f"Condition {name} is not declared")
            self._values[name] = self.evaluate(self._declared[name])
        return self._values[name]

    def evaluate(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise DeployError(f"not a condition: {expression!r}")
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.value(argument)
        if function == "Fn::Equals":
            left, right = (self._resolve(item) for item in argument)
            return bool(_comparable(left) == _comparable(right))
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::And":
            return all(self.evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self.evaluate(item) for item in argument)
        raise DeployError(f"unsupported condition function {function}")
