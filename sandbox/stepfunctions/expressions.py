"""JSONata in Step Functions states, which moto 5.2.5 leaves to a hook that is None.

moto composes every expression with its bindings (`$states`, variables) into one string; we evaluate
it with jsonata-python. Structured bindings are passed out of band (`$__sbv_<digest>` placeholders)
instead of being spliced in as literals, which moto does without escaping strings and which would make
every evaluation re-parse the whole state. Step Functions' own functions `$uuid()` and `$hash()` are
native; `$now()` and `$millis()` read the sandbox clock once per evaluation, as JSONata defines them
(every call within one evaluation returns the same instant: https://docs.jsonata.org/date-time-functions;
Step Functions' own functions: https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from sandbox.clock import SandboxClock

_PLACEHOLDER_PREFIX: Final = "__sbv_"
_PLACEHOLDER_PATTERN: Final = re.compile(r"\$(" + _PLACEHOLDER_PREFIX + r"[0-9a-f]{40})")
_HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class JsonataEvaluationError(Exception):
    """A JSONata expression failed to evaluate (Step Functions: States.QueryEvaluationError)."""


class _BindingStore:
    """Values bound to `$__sbv_<digest>` placeholders: JSON snapshots, keyed by content.

    Bounded, least recently used first out. Every evaluation of an execution reads its variables'
    placeholders, so the ones still in use stay recent; `$states` snapshots are used once."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._values: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def put(self, encoded: str) -> str:
        name = _PLACEHOLDER_PREFIX + hashlib.sha1(encoded.encode(), usedforsecurity=False).hexdigest()
        with self._lock:
            if name in self._values:
                self._values.move_to_end(name)
                return name
            self._values[name] = encoded
            self._bytes += len(encoded)
            while self._bytes > self._max_bytes and len(self._values) > 1:
                _, evicted = self._values.popitem(last=False)
                self._bytes -= len(evicted)
        return name

    def get(self, name: str) -> Any:
        with self._lock:
            encoded = self._values.get(name)
            if encoded is None:
                raise JsonataEvaluationError(
                    f"sandbox: the value bound to ${name} was evicted from the binding store"
                )
            self._values.move_to_end(name)
        return json.loads(encoded)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0


_BINDINGS = _BindingStore()


def _to_json(value: Any) -> str:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return to_json_str(value, separators=(",", ":"))


def encode_variable_declarations(bindings: dict[str, Any]) -> str:
    """Replacement for moto's encoder: scalars as escaped JSON literals, structures by placeholder."""
    parts: list[str] = []
    for reference, value in bindings.items():
        encoded = _to_json(value)
        literal = encoded if not isinstance(value, dict | list) else "$" + _BINDINGS.put(encoded)
        parts.append(f"{reference}:={literal};")
    return "".join(parts)


def _jsonata_uuid() -> str:
    return str(uuid.uuid4())


def _jsonata_hash(value: Any, algorithm: Any = "SHA-256") -> str:
    name = _HASH_ALGORITHMS.get(str(algorithm))
    if name is None:
        raise JsonataEvaluationError(f"$hash: unsupported algorithm {algorithm!r}")
    return hashlib.new(name, str(value).encode()).hexdigest()


def evaluate_jsonata(expression: str, clock: SandboxClock | None = None) -> Any:
    """Evaluates what moto hands its `_eval_jsonata` hook; `$now()`/`$millis()` read `clock`."""
    import jsonata  # type: ignore[import-untyped]
    from jsonata.functions import Functions  # type: ignore[import-untyped]

    bindings = {name: _BINDINGS.get(name) for name in set(_PLACEHOLDER_PATTERN.findall(expression))}
    try:
        program = jsonata.Jsonata(expression)
        program.register_lambda("uuid", _jsonata_uuid)
        program.register_lambda("hash", _jsonata_hash)
        if clock is not None:
            millis = clock.millis()

            def now(picture: str | None = None, timezone: str | None = None) -> Any:
                return Functions.datetime_from_millis(millis, picture, timezone)

            program.register_lambda("now", now)
            program.register_lambda("millis", lambda: millis)
        return program.evaluate(None, bindings)
    except JsonataEvaluationError:
        raise
    except Exception as error:
        raise JsonataEvaluationError(str(error)) from error


def clear_bindings() -> None:
    _BINDINGS.clear()


def install_jsonata(patch: Callable[[Any, str, Any], None], clock: SandboxClock) -> None:
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as intrinsic_jsonata
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

    patch(moto_jsonata, "_eval_jsonata", lambda expression: evaluate_jsonata(expression, clock))
    for module in (moto_jsonata, states, variable_store):
        patch(module, "encode_jsonata_variable_declarations", encode_variable_declarations)
    # moto declares $uuid and $hash as stubs returning "not supported"; ours are native.
    declarations = {
        ref: text
        for ref, text in intrinsic_jsonata._DECLARATION_BY_VARIABLE_REFERENCE.items()
        if ref not in {"$uuid", "$hash"}
    }
    patch(intrinsic_jsonata, "_DECLARATION_BY_VARIABLE_REFERENCE", declarations)
    for cls in (string_expression.StringJSONata, string_expression.StringVariableSample):
        patch(cls, "_eval_body", _query_evaluation_errors(cls.__dict__["_eval_body"]))


def _query_evaluation_errors(eval_body: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def _eval_body(component: Any, env: Any) -> None:
        try:
            eval_body(component, env)
        except JsonataEvaluationError as error:
            raise _query_evaluation_failure(env, component, error) from error

    return _eval_body


def _query_evaluation_failure(env: Any, component: Any, error: JsonataEvaluationError) -> Exception:
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    expression = getattr(component, "expression", "")
    cause = f"The JSONata expression '{expression}' threw an error during evaluation: {error}"
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                evaluationFailedEventDetails=EvaluationFailedEventDetails(
                    error=error_name.error_name, cause=cause
                )
            ),
        )
    )
