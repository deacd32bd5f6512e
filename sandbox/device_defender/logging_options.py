"""AWS IoT v2 logging options: what LOGGING_DISABLED_CHECK reads and ENABLE_IOT_LOGGING sets.

SetV2LoggingOptions (API reference) marks every member optional, `roleArn` included. IoT takes a request
without a role: AWS's own CloudFormation handler for AWS::IoT::Logging turns logging off with disableAllLogs
alone (aws-cloudformation-resource-providers-iot, aws-iot-logging DeleteHandler), and the CloudFormation
user guide (AWS::IoT::Logging) tells users to run `aws iot set-v2-logging-options --disable-all-logs`. What
such a request does to the stored role is not documented, so the emulator plays each reading
(`RoleOmitted`) and the tests run both. A request that names a role needs iam:PassRole on it
(sandbox.iam.requests).
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.device_defender.errors import ServiceError
from sandbox.device_defender.logging_reading import RoleOmitted
from sandbox.device_defender.service import Call, Handler


def get_v2_logging_options(call: Call) -> dict[str, Any]:
    if call.state.v2_logging is None:
        raise ServiceError("NotConfiguredException", "Logging options are not configured for this account.")
    return dict(call.state.v2_logging)


def set_v2_logging_options(call: Call) -> dict[str, Any]:
    given = {k: v for k, v in call.params.items() if v is not None}
    reading = call.service.logging_role_omitted
    if "roleArn" in given or reading is RoleOmitted.REPLACES:
        call.state.v2_logging = given
    else:
        call.state.v2_logging = {**(call.state.v2_logging or {}), **given}
    return {}


HANDLERS: Final[dict[str, Handler]] = {
    "GetV2LoggingOptions": get_v2_logging_options,
    "SetV2LoggingOptions": set_v2_logging_options,
}
