"""ApprovalRequestFunction's one job: keep a waiting group's task token and tell the operators.

The workflow invokes it with `lambda:invoke.waitForTaskToken`; its return value is not the state's
result (the operator's answer is). If it fails, the workflow starts nothing of the group.
"""

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.approvals import PENDING, ApprovalRequest, pending_item, request_message
from audit_remediator.errors import AwsCallError
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.settings import SnsTopicArn

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


class ApprovalRequestSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    reports_topic_arn: SnsTopicArn = Field(alias="REPORTS_TOPIC_ARN")
    stack_name: Annotated[str, Field(min_length=1, max_length=128)] = Field(alias="STACK_NAME")
    # The workflow's approval state times out after the same number of seconds (one stack parameter).
    approval_expiry_seconds: Annotated[int, Field(ge=60, le=31_536_000)] = Field(
        alias="APPROVAL_EXPIRY_SECONDS"
    )

    @property
    def region(self) -> str:
        return self.reports_topic_arn.split(":")[3]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ApprovalRequestSettings":
        return settings_from_environment(cls, environ, "ApprovalRequestFunction")


@dataclass
class ApprovalServices:
    settings: ApprovalRequestSettings
    dynamodb: "DynamoDBClient"
    sns: "SNSClient"
    clock: Callable[[], float] = time.time


@cache
def approval_services() -> ApprovalServices:
    settings = ApprovalRequestSettings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    return ApprovalServices(
        settings,
        session.client("dynamodb", config=_BOTO_CONFIG),
        session.client("sns", config=_BOTO_CONFIG),
    )


def request_approval(event: dict[str, Any], services: ApprovalServices) -> dict[str, Any]:
    """Stores the token (a retried invocation overwrites its own pending item, never a decided one),
    then publishes the request. Bad input raises ValidationError: the group starts nothing."""
    request = ApprovalRequest.model_validate(event)
    settings = services.settings
    requested = datetime.fromtimestamp(services.clock(), UTC)
    item = pending_item(request, requested, settings.approval_expiry_seconds)
    try:
        services.dynamodb.put_item(
            TableName=settings.remediation_table_name,
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR #status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise AwsCallError(
                f"the approval of group {request.task.task_id} was already decided; it is not asked again"
            ) from error
        raise AwsCallError(f"storing the approval of group {request.task.task_id} failed: {error}") from error
    except BotoCoreError as error:
        raise AwsCallError(f"storing the approval of group {request.task.task_id} failed: {error}") from error
    subject, document = request_message(
        request, settings.stack_name, requested, settings.approval_expiry_seconds
    )
    try:
        services.sns.publish(
            TopicArn=settings.reports_topic_arn,
            Subject=subject,
            Message=json.dumps(document, sort_keys=True),
        )
    except (ClientError, BotoCoreError) as error:
        raise AwsCallError(f"publishing the approval request failed: {error}") from error
    return {"taskId": request.task.task_id, "expiresAt": document["expiresAt"]}
