"""The collaborators of quarantine timers, built lazily and once per container: the verification hook
ResourceStateFunction calls, and QuarantineExpiryFunction's sweep."""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Annotated

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.adapters.audit_evidence import AuditEvidenceReader
from audit_remediator.adapters.kill_switch import ParameterKillSwitch
from audit_remediator.adapters.quarantine_group import QuarantineGroup
from audit_remediator.adapters.quarantine_timers import TimerRecords
from audit_remediator.adapters.reports_topic import ReportsTopic
from audit_remediator.function_environment import settings_from_environment
from audit_remediator.quarantine_expiry import ExpiryServices
from audit_remediator.quarantine_timers import QuarantineTimers
from audit_remediator.resource_state import ActionCatalog, IotStateReads
from audit_remediator.rules import RuleSet, load_rules
from audit_remediator.settings import SnsTopicArn

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Standard retry mode backs off on throttling (ListAuditFindings allows 10 calls a second); a timer whose
# calls still fail stays due for the next sweep.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=10)


@dataclass
class TimerClock:
    """The verification hook's clock (a timer's due day is counted from it)."""

    clock: Callable[[], float] = field(default=time.time)


@cache
def timer_clock() -> TimerClock:
    return TimerClock()


@cache
def _packaged_rules() -> RuleSet:
    return load_rules()


def quarantine_days(check: str) -> int | None:
    """The packaged rules table's quarantineDays for a check: the table the audit's plan was made with, as
    long as the layer was not redeployed in between."""
    return _packaged_rules().quarantine_days(check)


def timer_hook(dynamodb: "DynamoDBClient", table_name: str, iot: IotStateReads) -> QuarantineTimers:
    return QuarantineTimers(
        TimerRecords(dynamodb, table_name), quarantine_days, ActionCatalog(iot), lambda: timer_clock().clock()
    )


class QuarantineExpirySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    reports_topic_arn: SnsTopicArn = Field(alias="REPORTS_TOPIC_ARN")
    # ThingGroupName in the IoT API model.
    quarantine_thing_group_name: Annotated[
        str, Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9:_-]+$")
    ] = Field(alias="QUARANTINE_THING_GROUP_NAME")
    kill_switch_parameter_name: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^/?[a-zA-Z0-9_.\-/]+$")
    ] = Field(alias="KILL_SWITCH_PARAMETER_NAME")
    history_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(alias="HISTORY_RETENTION_DAYS")

    @property
    def region(self) -> str:
        return self.reports_topic_arn.split(":")[3]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "QuarantineExpirySettings":
        return settings_from_environment(cls, environ, "QuarantineExpiryFunction")


@cache
def quarantine_expiry_services() -> ExpiryServices:
    settings = QuarantineExpirySettings.from_environment(os.environ)
    session = boto3.session.Session(region_name=settings.region)
    iot = session.client("iot", config=_BOTO_CONFIG)
    return ExpiryServices(
        quarantine_group=settings.quarantine_thing_group_name,
        timers=TimerRecords(
            session.client("dynamodb", config=_BOTO_CONFIG),
            settings.remediation_table_name,
            settings.history_retention_days,
        ),
        evidence=AuditEvidenceReader(iot),
        groups=QuarantineGroup(iot),
        reports=ReportsTopic(session.client("sns", config=_BOTO_CONFIG), settings.reports_topic_arn),
        kill_switch=ParameterKillSwitch(
            SSMProvider(boto3_client=session.client("ssm", config=_BOTO_CONFIG)),
            settings.kill_switch_parameter_name,
        ),
    )
