"""The StartExecution adapter against botocore's Stubber: what each answer of Step Functions means."""

import boto3
import pytest
from botocore.stub import Stubber

from audit_remediator.adapters.executions import StepFunctionsExecutions
from audit_remediator.errors import AwsCallError
from audit_remediator.models.identifiers import execution_arn
from audit_remediator.models.plan import StartedExecution
from tests.conftest import REGION
from tests.unit.fakes import STATE_MACHINE_ARN

NAME = "audit-9a7b3c2d1e0f4a5b6c7d8e9f0a1b2c3d-176a26f7a383"


def _answering(error_code: str) -> StepFunctionsExecutions:
    client = boto3.client(
        "stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_client_error("start_execution", service_error_code=error_code, http_status_code=400)
    stubber.activate()
    return StepFunctionsExecutions(client, STATE_MACHINE_ARN)


def test_a_name_a_closed_execution_used_is_that_earlier_run() -> None:
    # A5: Step Functions refuses a closed execution's name for 90 days with ExecutionAlreadyExists;
    # names are derived from the plan's keys, so that execution is this plan's run
    started = _answering("ExecutionAlreadyExists").start(NAME, "{}")
    assert started == StartedExecution(execution_arn(STATE_MACHINE_ARN, NAME), already_existed=True)
    assert started.execution_arn.endswith(f":execution:RemediationStateMachine-x1:{NAME}")


@pytest.mark.parametrize("error_code", ["ExecutionLimitExceeded", "StateMachineDoesNotExist"])
def test_other_refusals_fail_the_invocation(error_code: str) -> None:
    with pytest.raises(AwsCallError, match=error_code):
        _answering(error_code).start(NAME, "{}")
