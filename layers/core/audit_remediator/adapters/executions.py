"""Starting Step Functions executions by deterministic name."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError
from audit_remediator.models.identifiers import execution_arn
from audit_remediator.models.plan import StartedExecution

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


# StartExecution with a running execution's name and input returns that execution (HTTP 200), not an
# error; one that started before this call is someone else's run.
_SAME_CALL_TOLERANCE = timedelta(seconds=5)


class StepFunctionsExecutions:
    def __init__(
        self,
        client: "SFNClient",
        state_machine_arn: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._state_machine_arn = state_machine_arn
        self.now = now

    def start(self, name: str, input_json: str) -> StartedExecution:
        """Start `name` once. A name already used is the same run: names are derived from the plan's keys."""
        called_at = self.now()
        try:
            response = self._client.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=input_json
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                # A closed execution's name cannot be used again (90 days): that run was this one.
                return StartedExecution(execution_arn(self._state_machine_arn, name), already_existed=True)
            raise AwsCallError(f"StartExecution {name} failed: {error}") from error
        except BotoCoreError as error:
            raise AwsCallError(f"StartExecution {name} failed: {error}") from error
        started_before = response["startDate"] < called_at - _SAME_CALL_TOLERANCE
        return StartedExecution(execution_arn=response["executionArn"], already_existed=started_before)
