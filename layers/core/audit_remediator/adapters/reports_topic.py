"""A report published to RemediationReportsTopic, where the operators read every outcome."""

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class ReportsTopic:
    def __init__(self, client: "SNSClient", topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, document: dict[str, Any]) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn, Subject=subject, Message=json.dumps(document, sort_keys=True)
            )
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"publishing the report failed: {error}") from error
