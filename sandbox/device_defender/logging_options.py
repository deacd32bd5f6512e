"""AWS IoT v2 logging options: what LOGGING_DISABLED_CHECK reads and ENABLE_IOT_LOGGING sets."""

from __future__ import annotations

from typing import Any, Final

from sandbox.device_defender.errors import ServiceError
from sandbox.device_defender.service import Call, Handler


def get_v2_logging_options(call: Call) -> dict[str, Any]:
    if call.state.v2_logging is None:
        raise ServiceError("NotConfiguredException", "Logging options are not configured for this account.")
    return dict(call.state.v2_logging)


def set_v2_logging_options(call: Call) -> dict[str, Any]:
    call.state.v2_logging = {k: v for k, v in call.params.items() if v is not None}
    return {}


HANDLERS: Final[dict[str, Handler]] = {
    "GetV2LoggingOptions": get_v2_logging_options,
    "SetV2LoggingOptions": set_v2_logging_options,
}
