"""botocore event hooks that route the Security Hub calls the sandbox models to the installed hub,
the same mechanism as `sandbox.device_defender.hooks` (registered last, so IAM enforcement and
fault injection answer first)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

import boto3
from botocore import handlers
from botocore.model import OperationModel

from sandbox.device_defender.errors import ServiceError
from sandbox.device_defender.hooks import error_response, http_response
from sandbox.securityhub.hub import SecurityHub

_PARAMS_KEY: Final = "sandbox.securityhub.params"
_lock = threading.Lock()
_installed: list[SecurityHub] = []


def activate(hub: SecurityHub) -> None:
    with _lock:
        _installed.append(hub)
    session = boto3.DEFAULT_SESSION
    if session is not None:
        emitter = session._session.get_component("event_emitter")
        for event, handler in _HANDLERS:
            emitter.register_last(event, handler, unique_id=f"{__name__}.{handler.__name__}")


def deactivate(hub: SecurityHub) -> None:
    with _lock:
        if hub in _installed:
            _installed.remove(hub)


def _active() -> SecurityHub | None:
    with _lock:
        return _installed[-1] if _installed else None


def _capture(params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any) -> None:
    hub = _active()
    if hub is not None and model.name in hub.operations:
        context[_PARAMS_KEY] = params


def _answer(model: OperationModel, context: dict[str, Any], **_: Any) -> Any:
    hub = _active()
    if hub is None or model.name not in hub.operations:
        return None
    try:
        result = hub.handle(model.name, context.get(_PARAMS_KEY, {}), context.get("client_region"))
    except ServiceError as error:
        return error_response(model, error)
    return http_response(model, 200, result)


_HANDLERS: Final[tuple[tuple[str, Callable[..., Any]], ...]] = (
    ("before-parameter-build.securityhub", _capture),
    ("before-call.securityhub", _answer),
)

for _event, _handler in _HANDLERS:
    if not any(len(spec) > 1 and spec[1] is _handler for spec in handlers.BUILTIN_HANDLERS):
        handlers.BUILTIN_HANDLERS.append((_event, _handler, handlers.REGISTER_LAST))
