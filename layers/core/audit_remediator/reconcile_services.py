"""Builds the reconciliation sweep's collaborators, lazily and once per container: the intake's own
(so an audit is decided exactly as its notification would be), Device Defender's audit list, the
decision log and the fleet counts of the quarantine share."""

import os
from collections.abc import Mapping
from functools import cache
from typing import Annotated

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.adapters.audit_tasks import AuditTaskReader
from audit_remediator.adapters.fleet_counts import IotFleetCounts
from audit_remediator.adapters.history import RemediationHistory
from audit_remediator.fleet_share import QuarantineShare
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.reconcile import ReconcileServices
from audit_remediator.services import audit_events_services

# Standard retry mode backs off on throttling; an audit whose calls still fail waits for the next sweep.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


class FleetShareSettings(BaseModel):
    """What the sweep needs beyond the intake's settings: the quarantine group it measures."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    quarantine_thing_group_name: Annotated[
        str, Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9:_-]+$")
    ] = Field(alias="QUARANTINE_THING_GROUP_NAME")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "FleetShareSettings":
        return settings_from_environment(cls, environ, "ReconcileFunction")


@cache
def reconcile_services() -> ReconcileServices:
    intake = audit_events_services()
    settings = intake.settings
    fleet = FleetShareSettings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    iot = session.client("iot", config=BOTO_CONFIG)
    return ReconcileServices(
        intake=intake,
        audits=AuditTaskReader(iot, settings.account_id),
        decisions=RemediationHistory(
            session.client("dynamodb", config=BOTO_CONFIG),
            settings.remediation_table_name,
            settings.history_retention_days,
        ),
        quarantine=QuarantineShare(fleet.quarantine_thing_group_name, IotFleetCounts(iot)),
    )
