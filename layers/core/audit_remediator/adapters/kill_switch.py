"""The kill switch parameter, read through Powertools' Parameters utility."""

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from audit_remediator.kill_switch import SwitchReading, reading_of, unreadable

# No cache: the value is read on every decision that could start something, so a pull stops the very
# next start in every warm container. One GetParameter per start costs less than one DynamoDB write,
# and a throttled read counts as pulled (nothing starts, Lambda retries the event).
MAX_AGE_SECONDS = 0


class ParameterKillSwitch:
    def __init__(self, provider: SSMProvider, name: str) -> None:
        self._provider = provider
        self._name = name

    def read(self) -> SwitchReading:
        try:
            value = self._provider.get(self._name, max_age=MAX_AGE_SECONDS)
        except GetParameterError as error:
            return unreadable(f"GetParameter {self._name}: {error}")
        return reading_of(str(value).strip())
