"""ApprovalExpiryFunction's one job: when the kill switch is pulled, every pending approval expires.

EventBridge's "Parameter Store Change" event for the kill switch invokes it; the event does not carry
the value, so the switch is read (unreadable counts as pulled). Each pending approval is marked EXPIRED
by the same conditional update a decision makes (so it cannot also be approved), then its token is
failed with Remediation.ApprovalExpired: the workflow records it and starts nothing.
"""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.adapters.kill_switch import ParameterKillSwitch
from audit_remediator.approvals import EXPIRED_ERROR, PENDING, PENDING_INDEX
from audit_remediator.errors import AwsCallError
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.kill_switch import KillSwitch
from audit_remediator.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)
# SendTaskFailure's answers for a token that is no longer waiting (Step Functions API reference).
_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class ApprovalExpirySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    kill_switch_parameter_name: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^/?[a-zA-Z0-9_.\-/]+$")
    ] = Field(alias="KILL_SWITCH_PARAMETER_NAME")
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")] = Field(alias="AWS_REGION")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ApprovalExpirySettings":
        return settings_from_environment(cls, environ, "ApprovalExpiryFunction")


@dataclass
class ExpiryServices:
    settings: ApprovalExpirySettings
    dynamodb: "DynamoDBClient"
    sfn: "SFNClient"
    kill_switch: KillSwitch
    clock: Callable[[], float] = time.time


@cache
def expiry_services() -> ExpiryServices:
    settings = ApprovalExpirySettings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    return ExpiryServices(
        settings,
        session.client("dynamodb", config=_BOTO_CONFIG),
        session.client("stepfunctions", config=_BOTO_CONFIG),
        ParameterKillSwitch(
            SSMProvider(boto3_client=session.client("ssm", config=_BOTO_CONFIG)),
            settings.kill_switch_parameter_name,
        ),
    )


def expire_on_pull(event: dict[str, Any], services: ExpiryServices) -> dict[str, Any]:
    """Expires every pending approval if the switch is pulled; a failure on any of them fails the
    invocation after the others were tried, so Lambda retries the event."""
    del event  # the event says the switch changed; the parameter says how
    reading = services.kill_switch.read()
    if not reading.pulled:
        return {"expired": [], "reason": reading.reason}
    now = datetime.fromtimestamp(services.clock(), UTC).isoformat(timespec="seconds")
    expired: list[str] = []
    failures: list[str] = []
    for item in _pending(services):
        key = {"pk": item["pk"], "sk": item["sk"]}
        try:
            services.dynamodb.update_item(
                TableName=services.settings.remediation_table_name,
                Key=key,
                UpdateExpression="SET #status = :expired, decidedAt = :now, decisionReason = :reason "
                "REMOVE approvalPending",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":expired": {"S": "EXPIRED"},
                    ":pending": {"S": PENDING},
                    ":now": {"S": now},
                    ":reason": {"S": reading.reason},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                failures.append(f"{item['sk']['S']}: {error}")
            continue  # decided meanwhile: the decision stands
        except BotoCoreError as error:
            failures.append(f"{item['sk']['S']}: {error}")
            continue
        try:
            services.sfn.send_task_failure(
                taskToken=item["taskToken"]["S"],
                error=EXPIRED_ERROR,
                cause=f"expired at {now}: {reading.reason}"[:32768],
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GONE:
                failures.append(f"{item['sk']['S']}: {error}")
                continue
        except BotoCoreError as error:
            failures.append(f"{item['sk']['S']}: {error}")
            continue
        expired.append(item["taskId"]["S"])
    logger.info("pending approvals expired by the kill switch", extra={"expired": expired})
    if failures:
        raise AwsCallError(f"{len(failures)} pending approvals could not be expired: {'; '.join(failures)}")
    return {"expired": expired, "reason": reading.reason}


def _pending(services: ExpiryServices) -> list[dict[str, Any]]:
    try:
        pages = services.dynamodb.get_paginator("query").paginate(
            TableName=services.settings.remediation_table_name,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="approvalPending = :pending",
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )
        return [dict(item) for page in pages for item in page.get("Items", [])]
    except (ClientError, BotoCoreError) as error:
        raise AwsCallError(f"listing the pending approvals failed: {error}") from error
