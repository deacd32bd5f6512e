"""RollbackFunction's environment, validated when the function starts, its collaborators (built lazily,
once per container) and the one entry point: one page of a rollback."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit_remediator.adapters.iot_restore import IotRestorer
from audit_remediator.adapters.rollback_records import RollbackRecords
from audit_remediator.adapters.securityhub import AuditFindingsInSecurityHub
from audit_remediator.errors import AwsCallError
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.models.rollback import RollbackRequest
from audit_remediator.rollback import RollbackRequestError
from audit_remediator.rollback_pages import rollback_page
from audit_remediator.securityhub_services import SecurityHubSyncSettings
from audit_remediator.securityhub_sync import SecurityHubSyncRequest, SecurityHubSyncResult, sync_findings

# Standard retry mode backs off on IoT's, DynamoDB's and Security Hub's throttling.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


class RollbackSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    reports_topic_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")
    ] = Field(alias="REPORTS_TOPIC_ARN")
    certificate_arn_prefix: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:iot:([a-z0-9-]+):[0-9]{12}:cert/$")
    ] = Field(alias="CERTIFICATE_ARN_PREFIX")

    @property
    def region(self) -> str:
        return self.certificate_arn_prefix.split(":")[3]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "RollbackSettings":
        return settings_from_environment(cls, environ, "RollbackFunction")


@dataclass
class RollbackServices:
    settings: RollbackSettings
    securityhub: SecurityHubSyncSettings
    session: boto3.session.Session


@cache
def rollback_services() -> RollbackServices:
    settings = RollbackSettings.from_environment(os.environ)
    securityhub = SecurityHubSyncSettings.from_environment(os.environ)
    return RollbackServices(settings, securityhub, boto3.session.Session(region_name=settings.region))


class _Reports:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client, self._topic = client, topic_arn

    def publish(self, subject: str, message: str) -> None:
        try:
            self._client.publish(TopicArn=self._topic, Subject=subject, Message=message)
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"publishing the rollback report failed: {error}") from error


def parse_request(event: Any) -> RollbackRequest:
    try:
        return RollbackRequest.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'the request'}: {item['msg']}"
            for item in error.errors()[:3]
        )
        raise RollbackRequestError(f"the rollback request is invalid: {problems}") from error


def handle_rollback(event: Any, services: RollbackServices) -> dict[str, Any]:
    request = parse_request(event)
    settings, hub_settings = services.settings, services.securityhub
    client = services.session.client
    hub = (
        AuditFindingsInSecurityHub(
            client("securityhub", config=_BOTO_CONFIG),
            account_id=hub_settings.account_id,
            product_arn=hub_settings.audit_product_arn,
        )
        if hub_settings.security_hub_sync == "Enabled"
        else None
    )

    def sync(sync_request: SecurityHubSyncRequest) -> SecurityHubSyncResult:
        return sync_findings(sync_request, hub, updated_by=hub_settings.note_author)

    page = rollback_page(
        request,
        RollbackRecords(client("dynamodb", config=_BOTO_CONFIG), settings.remediation_table_name),
        IotRestorer(client("iot", config=_BOTO_CONFIG), settings.certificate_arn_prefix),
        sync,
        _Reports(client("sns", config=_BOTO_CONFIG), settings.reports_topic_arn),
    )
    return page.model_dump(mode="json", by_alias=True)
