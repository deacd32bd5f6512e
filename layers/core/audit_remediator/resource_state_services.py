"""ResourceStateFunction's environment and collaborators (built lazily, once per container), and the one
entry point: a `before` page records pre-state, an `after` page verifies it."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.adapters.iot_state import IotStateReader
from audit_remediator.adapters.state_records import StateRecords
from audit_remediator.adapters.verification_results import EarlierVerifications
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.models.resource_state import PreStateRequest, VerificationRequest
from audit_remediator.prestate import record_page
from audit_remediator.quarantine_services import timer_hook
from audit_remediator.remediation_metrics import VerificationMetrics
from audit_remediator.verification import verify_page

# Standard retry mode backs off on IoT's and DynamoDB's throttling before a read counts as failed.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


class ResourceStateSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    quarantine_policy_name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w+=,.@-]+$")] = (
        Field(alias="QUARANTINE_POLICY_NAME")
    )
    certificate_arn_prefix: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:iot:([a-z0-9-]+):[0-9]{12}:cert/$")
    ] = Field(alias="CERTIFICATE_ARN_PREFIX")

    @property
    def region(self) -> str:
        return self.certificate_arn_prefix.split(":")[3]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ResourceStateSettings":
        return settings_from_environment(cls, environ, "ResourceStateFunction")


@dataclass
class ResourceStateServices:
    settings: ResourceStateSettings
    session: boto3.session.Session
    clock: Callable[[], float] = time.time


@cache
def resource_state_services() -> ResourceStateServices:
    settings = ResourceStateSettings.from_environment(os.environ)
    return ResourceStateServices(settings, boto3.session.Session(region_name=settings.region))


def handle_page(event: dict[str, Any], services: ResourceStateServices) -> dict[str, Any]:
    settings = services.settings
    iot = IotStateReader(services.session.client("iot", config=_BOTO_CONFIG), settings.certificate_arn_prefix)
    dynamodb = services.session.client("dynamodb", config=_BOTO_CONFIG)
    store = StateRecords(dynamodb, settings.remediation_table_name)
    if event.get("phase") == "after":
        timers = timer_hook(dynamodb, settings.remediation_table_name, iot)
        metrics = VerificationMetrics(
            EarlierVerifications(dynamodb, settings.remediation_table_name),
            clock=lambda: datetime.fromtimestamp(services.clock(), UTC),
        )
        verified = verify_page(
            VerificationRequest.model_validate(event),
            iot,
            store,
            settings.quarantine_policy_name,
            timers=timers,
            metrics=metrics,
        )
        return verified.model_dump(mode="json", by_alias=True)
    recorded = record_page(PreStateRequest.model_validate(event), iot, store)
    return recorded.model_dump(mode="json", by_alias=True)
