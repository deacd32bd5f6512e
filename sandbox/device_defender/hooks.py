"""botocore event hooks that route IoT Device Defender calls to the installed emulator.

Like moto's own `before-send` stubber, the handlers are added once to botocore's BUILTIN_HANDLERS,
so every session and client created afterwards carries them; they answer only while an emulator is
installed. They are registered last, so any other `before-call` handler that returns a response
(fault injection, botocore's Stubber) wins over the emulator.

The request parameters are captured at `before-parameter-build` (after botocore has filled in
idempotency tokens) because `before-call` only sees the serialised HTTP request.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

import boto3
from botocore import handlers
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.client import BaseClient
from botocore.model import OperationModel
from botocore.parsers import create_parser

from sandbox.device_defender.errors import ServiceError

_PARAMS_KEY: Final = "sandbox.device_defender.params"
_CAPTURE_EVENT: Final = "before-parameter-build.iot"
_ANSWER_EVENT: Final = "before-call.iot"


class Backend(Protocol):
    operations: frozenset[str]

    def handle(
        self, operation_name: str, params: Mapping[str, Any], region: str | None
    ) -> dict[str, Any]: ...


_lock = threading.Lock()
_installed: list[Backend] = []


def activate(backend: Backend) -> None:
    """Installs `backend`; the most recently installed one answers until it is deactivated."""
    with _lock:
        if backend in _installed:
            raise RuntimeError("this Device Defender emulator is already installed")
        _installed.append(backend)
    _register_on_default_session()


def deactivate(backend: Backend) -> None:
    with _lock:
        if backend in _installed:
            _installed.remove(backend)


def active() -> Backend | None:
    with _lock:
        return _installed[-1] if _installed else None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def http_response(
    model: OperationModel, status: int, body: Mapping[str, Any], error_code: str | None = None
) -> tuple[AWSResponse, dict[str, Any]]:
    """A response as botocore would have received and parsed it from the IoT endpoint."""
    raw = json.dumps(body, default=_json_default).encode()
    headers = HeadersDict({"content-type": "application/json", "x-amzn-requestid": str(uuid.uuid4())})
    if error_code is not None:
        headers["x-amzn-errortype"] = f"{error_code}:http://internal.amazon.com/coral/com.amazonaws.iot/"
    parser = create_parser(model.metadata["protocol"])
    shape: Any = model.output_shape  # botocore also parses operations without an output shape
    parsed: dict[str, Any] = parser.parse({"status_code": status, "headers": headers, "body": raw}, shape)
    url = f"https://iot.amazonaws.com{model.http.get('requestUri', '/')}"
    plain: Any = dict(headers)
    return AWSResponse(url, status, plain, _Raw(raw)), parsed


def error_response(model: OperationModel, error: ServiceError) -> tuple[AWSResponse, dict[str, Any]]:
    return http_response(model, error.status, {"message": error.message}, error_code=error.code)


def _capture(params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any) -> None:
    backend = active()
    if backend is not None and model.name in backend.operations:
        context[_PARAMS_KEY] = params


def _answer(
    model: OperationModel, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    backend = active()
    if backend is None or model.name not in backend.operations:
        return None
    params = context.get(_PARAMS_KEY, {})
    try:
        result = backend.handle(model.name, params, context.get("client_region"))
    except ServiceError as error:
        return error_response(model, error)
    return http_response(model, 200, result)


_HANDLERS: Final[tuple[tuple[str, Callable[..., Any]], ...]] = (
    (_CAPTURE_EVENT, _capture),
    (_ANSWER_EVENT, _answer),
)


def _register_on_default_session() -> None:
    """A default session created before this module was imported did not copy BUILTIN_HANDLERS."""
    session = boto3.DEFAULT_SESSION
    if session is None or session is not _SESSION_AT_IMPORT:
        return
    emitter = session._session.get_component("event_emitter")
    for event, handler in _HANDLERS:
        emitter.register_last(event, handler, unique_id=f"{__name__}.{handler.__name__}")


def patch_client(client: BaseClient) -> None:
    """For a client created before this module was imported (its emitter is already copied)."""
    for event, handler in _HANDLERS:
        client.meta.events.register_last(event, handler, unique_id=f"{__name__}.{handler.__name__}")


_SESSION_AT_IMPORT: Final = boto3.DEFAULT_SESSION
for _event, _handler in _HANDLERS:
    if not any(len(spec) > 1 and spec[1] is _handler for spec in handlers.BUILTIN_HANDLERS):
        handlers.BUILTIN_HANDLERS.append((_event, _handler, handlers.REGISTER_LAST))
