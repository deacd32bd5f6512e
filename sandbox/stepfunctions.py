"""What real Step Functions does and moto 5.2.5's interpreter does not.

- JSONata: moto composes every expression with its bindings (`$states`, variables) into one string
  and hands it to a hook that is None; we evaluate it with jsonata-python. Structured bindings are
  passed out of band (`$__sbv_<digest>` placeholders) instead of being spliced in as literals, which
  moto does without escaping strings and which would make every evaluation re-parse the whole state.
- `aws-sdk:*` tasks: PascalCase parameter names are converted to the service model's member names,
  and response members back to PascalCase, recursively (map keys are data and stay as they are).
- `aws-sdk:*` errors are named `<Service>.<Code>` in PascalCase (`Iot.LimitExceededException`).
- Wait states and retry intervals are scaled by the sandbox's time scale.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Final

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.response import StreamingBody

from sandbox.patching import Patch, patch_attribute, restore_patches

LOG = logging.getLogger(__name__)

_PLACEHOLDER_PREFIX: Final = "__sbv_"
_PLACEHOLDER_PATTERN: Final = re.compile(r"\$(" + _PLACEHOLDER_PREFIX + r"[0-9a-f]{40})")
_SERVICE_ERROR_NAMES: Final = {"dynamodb": "DynamoDb", "sfn": "Sfn", "stepfunctions": "Sfn"}
_HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class JsonataEvaluationError(Exception):
    """A JSONata expression failed to evaluate (Step Functions: States.QueryEvaluationError)."""


class AwsSdkParameterError(Exception):
    """An aws-sdk task used a parameter name the service model does not have."""


# --- JSONata --------------------------------------------------------------------------------------


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
_PARSE_TREES: dict[str, Any] = {}
_PARSE_TREE_LIMIT: Final = 32


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


def evaluate_jsonata(expression: str) -> Any:
    """The evaluator plugged into moto's `_eval_jsonata` hook."""
    import jsonata  # type: ignore[import-untyped]

    bindings = {name: _BINDINGS.get(name) for name in set(_PLACEHOLDER_PATTERN.findall(expression))}
    try:
        program = jsonata.Jsonata(expression)
        program.register_lambda("uuid", _jsonata_uuid)
        program.register_lambda("hash", _jsonata_hash)
        return program.evaluate(None, bindings)
    except JsonataEvaluationError:
        raise
    except Exception as error:
        raise JsonataEvaluationError(str(error)) from error


# --- aws-sdk parameter and response names ---------------------------------------------------------


@cache
def _service_model(service_name: str) -> Any:
    return botocore.session.get_session().get_service_model(service_name)


def operation_model(service_name: str, api_action: str) -> OperationModel:
    model = _service_model(service_name)
    wanted = api_action[:1].upper() + api_action[1:]
    for name in model.operation_names:
        if name == wanted or name.lower() == api_action.lower():
            return model.operation_model(name)  # type: ignore[no-any-return]
    raise AwsSdkParameterError(f"{service_name} has no API action {api_action!r}")


def pascal_case(member: str) -> str:
    return member[:1].upper() + member[1:]


def _member_for(key: str, members: dict[str, Shape]) -> str | None:
    if key in members:
        return key
    for member in members:
        if pascal_case(member) == key:
            return member
    lowered = key.lower()
    for member in members:
        if member.lower() == lowered:
            return member
    return None


def to_api_members(value: Any, shape: Shape | None, path: str = "") -> Any:
    """PascalCase request parameters -> the service model's member names, recursively."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            member = _member_for(key, dict(shape.members))
            if member is None:
                where = f"{path}.{key}" if path else key
                raise AwsSdkParameterError(
                    f"The field '{where}' is not supported by the API (shape {shape.name}); "
                    f"known members: {sorted(pascal_case(m) for m in shape.members)}"
                )
            converted[member] = to_api_members(item, shape.members[member], f"{path}.{key}".lstrip("."))
        return converted
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_api_members(item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_api_members(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _iso_timestamp(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="milliseconds") if value.microsecond else value.isoformat()
    return text + "Z"


def to_sfn_members(value: Any, shape: Shape | None) -> Any:
    """API response members -> PascalCase, recursively; timestamps as ISO-8601 strings."""
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    if isinstance(value, datetime.datetime):
        return _iso_timestamp(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = dict(shape.members)
        return {pascal_case(key): to_sfn_members(item, members.get(key)) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_sfn_members(item, shape.value) for key, item in value.items()}
    if isinstance(value, list):
        member = shape.member if isinstance(shape, ListShape) else None
        return [to_sfn_members(item, member) for item in value]
    if isinstance(value, dict):
        return {pascal_case(key): to_sfn_members(item, None) for key, item in value.items()}
    return value


def sfn_service_name(service_name: str) -> str:
    return _SERVICE_ERROR_NAMES.get(service_name.lower(), pascal_case(service_name))


def sfn_error_name(service_name: str, error_code: str) -> str:
    name = error_code if error_code.endswith("Exception") else error_code + "Exception"
    return f"{sfn_service_name(service_name)}.{name}"


# --- moto patches ---------------------------------------------------------------------------------


class StepFunctionsRuntime:
    """Installs the patches into moto's interpreter while a sandbox is open."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self._patches: list[Patch] = []

    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.time_scale)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        patch_attribute(self._patches, owner, name, value)

    def install(self) -> None:
        self._install_jsonata()
        self._install_aws_sdk()
        self._install_time_scaling()
        self._install_execution_names()
        self._install_parse_cache()
        self._install_assign_after_output()

    def uninstall(self) -> None:
        restore_patches(self._patches)
        _BINDINGS.clear()

    @contextmanager
    def installed(self) -> Iterator[None]:
        self.install()
        try:
            yield
        finally:
            self.uninstall()

    def _install_jsonata(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.string import string_expression
        from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as intrinsic_jsonata
        from moto.stepfunctions.parser.asl.eval import states, variable_store
        from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

        self._patch(moto_jsonata, "_eval_jsonata", evaluate_jsonata)
        for module in (moto_jsonata, states, variable_store):
            self._patch(module, "encode_jsonata_variable_declarations", encode_variable_declarations)
        # moto declares $uuid and $hash as stubs returning "not supported"; ours are native.
        declarations = {
            ref: text
            for ref, text in intrinsic_jsonata._DECLARATION_BY_VARIABLE_REFERENCE.items()
            if ref not in {"$uuid", "$hash"}
        }
        self._patch(intrinsic_jsonata, "_DECLARATION_BY_VARIABLE_REFERENCE", declarations)
        for cls in (string_expression.StringJSONata, string_expression.StringVariableSample):
            self._patch(cls, "_eval_body", _query_evaluation_errors(cls.__dict__["_eval_body"]))

    def _install_aws_sdk(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk as aws_sdk,
        )

        task_class = aws_sdk.StateTaskServiceAwsSdk
        original_eval = task_class.__dict__["_eval_service_task"]
        original_from_error = task_class.__dict__["_from_error"]

        def _eval_service_task(
            task: Any,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> None:
            service = task._get_boto_service_name()
            operation = operation_model(service, task.resource.api_action)
            converted = to_api_members(normalised_parameters, operation.input_shape)
            normalised_parameters.clear()
            normalised_parameters.update(converted)
            original_eval(task, env, resource_runtime_part, normalised_parameters, state_credentials)
            response = env.stack.pop()
            env.stack.append(to_sfn_members(response, operation.output_shape))

        def _from_error(task: Any, env: Any, ex: Exception) -> Any:
            if isinstance(ex, ClientError):
                service = sfn_service_name(task.resource.api_name)
                error = sfn_error_name(
                    task.resource.api_name, str(ex.response["Error"].get("Code", "Unknown"))
                )
                metadata = ex.response.get("ResponseMetadata", {})
                cause = (
                    f"{ex.response['Error'].get('Message', '')} (Service: {service}, "
                    f"Status Code: {metadata.get('HTTPStatusCode')}, Request ID: {metadata.get('RequestId')})"
                )
                return task._get_task_failure_event(env=env, error=error, cause=cause)
            if isinstance(ex, AwsSdkParameterError):
                return task._get_task_failure_event(env=env, error="States.Runtime", cause=str(ex))
            return original_from_error(task, env, ex)

        self._patch(task_class, "_eval_service_task", _eval_service_task)
        self._patch(task_class, "_from_error", _from_error)

    def _install_assign_after_output(self) -> None:
        """Step Functions evaluates a state's Assign and Output side by side: both see the variables as
        they were when the state was entered, and the assignments take effect when it exits. moto sets
        the variables first, so an Output (or a later Assign binding) saw the new values."""
        from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
        from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

        original_assign = AssignDecl.__dict__["_eval_body"]
        original_state = CommonStateField.__dict__["_eval_body"]
        original_exit = CommonStateField.__dict__["_get_state_exited_event_details"]

        def assign(declaration: Any, env: Any) -> None:
            pending: dict[str, Any] | None = getattr(env, _PENDING_ASSIGNMENTS, None)
            if pending is None:
                original_assign(declaration, env)
                return
            values: dict[str, Any] = {}
            for binding in declaration.declaration_bindings:
                binding.eval(env=env)
                values.update(env.stack.pop())
            pending.update(values)

        def state_body(state: Any, env: Any) -> None:
            outer = getattr(env, _PENDING_ASSIGNMENTS, None)
            setattr(env, _PENDING_ASSIGNMENTS, {})
            try:
                original_state(state, env)
            finally:
                _apply_pending_assignments(env)
                setattr(env, _PENDING_ASSIGNMENTS, outer)

        def exited(state: Any, env: Any) -> Any:
            _apply_pending_assignments(env)
            return original_exit(state, env)

        self._patch(AssignDecl, "_eval_body", assign)
        self._patch(CommonStateField, "_eval_body", state_body)
        self._patch(CommonStateField, "_get_state_exited_event_details", exited)

    def _install_parse_cache(self) -> None:
        from moto.stepfunctions.parser.asl.parse import asl_parser
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        original = asl_parser.AmazonStateLanguageParser.__dict__["parse"].__func__

        # moto parses the definition at CreateStateMachine and again at every StartExecution; the ANTLR
        # pass is most of the cost and its tree is only read, so it is kept. The components the
        # Preprocessor builds hold execution state and are built afresh every time.
        def parse(definition: str) -> tuple[Any, Any]:
            tree = _PARSE_TREES.get(definition)
            if tree is None:
                program, tree = original(definition)
                if len(_PARSE_TREES) >= _PARSE_TREE_LIMIT:
                    _PARSE_TREES.pop(next(iter(_PARSE_TREES)))
                _PARSE_TREES[definition] = tree
                return program, tree
            return Preprocessor().visit(tree), tree

        self._patch(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))

    def _install_execution_names(self) -> None:
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        original = StepFunctionsParserBackend.__dict__["start_execution"]

        # StartExecution without a name gets a UUID; moto's interpreter leaves it None.
        def start_execution(
            backend: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
        ) -> Any:
            return original(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

        self._patch(StepFunctionsParserBackend, "start_execution", start_execution)

    def _install_time_scaling(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

        runtime = self

        def _wait_interval(_: Any, env: Any, wait_seconds: float) -> None:
            deadline = time.monotonic() + runtime.scaled(wait_seconds)
            while env.is_running():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                env.program_state_event.wait(remaining)

        self._patch(wait_function.WaitFunction, "_wait_interval", _wait_interval)
        self._patch(retrier_decl, "time", _ScaledTime(self.scaled))


_PENDING_ASSIGNMENTS: Final = "_sandbox_pending_assignments"


def _apply_pending_assignments(env: Any) -> None:
    pending: dict[str, Any] | None = getattr(env, _PENDING_ASSIGNMENTS, None)
    if not pending:
        return
    values = dict(pending)
    pending.clear()
    for identifier, value in values.items():
        env.variable_store.set(variable_identifier=identifier, variable_value=value)


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier, whose only use is sleep()."""

    def __init__(self, scale: Callable[[float], float]) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(self._scale(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


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
