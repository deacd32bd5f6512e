"""SecurityHubSyncFunction's environment, validated when the function starts, and the one thing it
does: run `sync_findings` with a Security Hub client, or with none while the sync is off, for a list of
finding ids or for one page of a group awaiting approval, of one whose approval ended, or of a verified
task (audit_remediator.securityhub_pages)."""

import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.adapters.iot_state import IotStateReader
from audit_remediator.adapters.securityhub import AuditFindingsInSecurityHub, SecurityHubClient
from audit_remediator.adapters.verification_results import TaskVerificationResults
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.impact import AuditFindingView
from audit_remediator.models.plan import MitigationTaskSpec
from audit_remediator.models.resource_state import FindingsCursor
from audit_remediator.observability import logger
from audit_remediator.prestate import task_findings_page
from audit_remediator.securityhub_pages import (
    ApprovalEndedPage,
    AwaitingApprovalPage,
    VerifiedPage,
    mark_awaiting_approval,
    resolve_verified,
    return_unapproved,
)
from audit_remediator.securityhub_sync import SecurityHubSyncRequest, sync_findings

# GetFindings allows 3 requests a second: standard retries back off on its throttling.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


class SecurityHubSyncSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    security_hub_sync: Literal["Enabled", "Disabled"] = Field(alias="SECURITY_HUB_SYNC")
    audit_product_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:securityhub:[a-z0-9-]+::product/aws/iot-device-defender-audit$")
    ] = Field(alias="AUDIT_PRODUCT_ARN")
    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")] = Field(alias="ACCOUNT_ID")
    note_author: Annotated[str, Field(min_length=1, max_length=128)] = Field(alias="NOTE_AUTHOR")
    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )

    @property
    def region(self) -> str:
        return self.audit_product_arn.split(":")[3]

    @property
    def certificate_arn_prefix(self) -> str:
        partition = self.audit_product_arn.split(":")[1]
        return f"arn:{partition}:iot:{self.region}:{self.account_id}:cert/"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "SecurityHubSyncSettings":
        return settings_from_environment(cls, environ, "SecurityHubSyncFunction")


@cache
def securityhub_settings() -> SecurityHubSyncSettings:
    return SecurityHubSyncSettings.from_environment(os.environ)


def _client(settings: SecurityHubSyncSettings) -> SecurityHubClient:
    client: SecurityHubClient = boto3.client("securityhub", region_name=settings.region, config=_BOTO_CONFIG)
    return client


def sync(
    event: Mapping[str, Any],
    settings: SecurityHubSyncSettings,
    client: Callable[[SecurityHubSyncSettings], SecurityHubClient] = _client,
) -> dict[str, Any]:
    """A sync request in, what was updated, not found or not processed out (never an exception for
    a Security Hub failure; an invalid request is one)."""
    request = SecurityHubSyncRequest.model_validate(event)
    hub = (
        AuditFindingsInSecurityHub(
            client(settings), account_id=settings.account_id, product_arn=settings.audit_product_arn
        )
        if settings.security_hub_sync == "Enabled"
        else None
    )
    result = sync_findings(request, hub, updated_by=settings.note_author)
    if result.sync == "partial":
        logger.warning(
            "Security Hub findings not all updated",
            extra={
                "notFound": result.not_found,
                "unprocessed": [u.model_dump(by_alias=True) for u in result.unprocessed],
            },
        )
    return result.model_dump(by_alias=True, mode="json")


class _TaskFindingsInIot:
    def __init__(self, iot: IotStateReader) -> None:
        self._iot = iot

    def page(
        self, audit_task_id: str, task: MitigationTaskSpec, cursor: FindingsCursor | None
    ) -> tuple[list[AuditFindingView], FindingsCursor | None]:
        return task_findings_page(audit_task_id, task, cursor, self._iot)


def sync_page(
    event: Mapping[str, Any],
    settings: SecurityHubSyncSettings,
    client: Callable[[SecurityHubSyncSettings], SecurityHubClient] = _client,
) -> dict[str, Any]:
    """One page of a group awaiting approval (`page: awaiting-approval`), of one whose approval ended
    with nothing started (`page: approval-ended`) or of a verified task (`page: verified`): counts and
    the next cursor out. With the sync off nothing is read or called."""
    enabled = settings.security_hub_sync == "Enabled"
    hub = (
        AuditFindingsInSecurityHub(
            client(settings), account_id=settings.account_id, product_arn=settings.audit_product_arn
        )
        if enabled
        else None
    )
    session = boto3.session.Session(region_name=settings.region)
    if event.get("page") == "verified":
        verified = VerifiedPage.model_validate(event)
        results = TaskVerificationResults(
            session.client("dynamodb", config=_BOTO_CONFIG), settings.remediation_table_name
        )
        result = resolve_verified(verified, results, hub, updated_by=settings.note_author)
    else:
        iot = _TaskFindingsInIot(
            IotStateReader(session.client("iot", config=_BOTO_CONFIG), settings.certificate_arn_prefix)
        )
        if event.get("page") == "approval-ended":
            ended = ApprovalEndedPage.model_validate(event)
            result = return_unapproved(ended, iot, hub, updated_by=settings.note_author)
        else:
            waiting = AwaitingApprovalPage.model_validate(event)
            result = mark_awaiting_approval(waiting, iot, hub, updated_by=settings.note_author)
    if result.sync == "partial":
        logger.warning("Security Hub findings not all updated", extra={"totals": result.totals.model_dump()})
    return result.model_dump(mode="json", by_alias=True)


def handle(event: Mapping[str, Any], settings: SecurityHubSyncSettings) -> dict[str, Any]:
    """A page request carries `page`; anything else is a list of finding ids."""
    return sync_page(event, settings) if "page" in event else sync(event, settings)
