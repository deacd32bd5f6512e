"""The AuditEventsFunction's environment, modelled and validated when the function starts."""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from audit_remediator.function_environment import settings_from_environment
from audit_remediator.models.identifiers import MitigationActionName
from audit_remediator.models.plan import RemediationMode

SnsTopicArn = Annotated[
    str, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", max_length=512)
]


# AWS allows 100 mitigation actions per account (Device Defender quotas).
MAX_MITIGATION_ACTIONS = 100


def _comma_separated(value: Any) -> Any:
    """`a,b,c` as template.yaml's !Join writes it; an empty entry is a mistake, not a name."""
    if not isinstance(value, str):
        return value
    names = [name.strip() for name in value.split(",")]
    if any(not name for name in names):
        raise ValueError("must be a comma-separated list of mitigation action names, with no empty entry")
    if len(set(names)) != len(names):
        raise ValueError("names a mitigation action twice")
    return frozenset(names)


MitigationActionNames = Annotated[
    frozenset[MitigationActionName],
    BeforeValidator(_comma_separated),
    Field(min_length=1, max_length=MAX_MITIGATION_ACTIONS),
]


class AuditEventsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    audit_events_topic_arn: SnsTopicArn = Field(alias="AUDIT_EVENTS_TOPIC_ARN")
    state_machine_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:.+$")
    ] = Field(alias="STATE_MACHINE_ARN")
    idempotency_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="IDEMPOTENCY_TABLE_NAME"
    )
    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    quarantine_queue_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = Field(
        alias="QUARANTINE_QUEUE_URL"
    )
    remediation_mode: RemediationMode = Field(alias="REMEDIATION_MODE")
    # Mitigation action names are `<prefix><logical id>`; the API allows 128 characters in all.
    mitigation_action_name_prefix: Annotated[str, Field(max_length=80, pattern=r"^[a-zA-Z0-9_-]*$")] = Field(
        alias="MITIGATION_ACTION_NAME_PREFIX"
    )
    # The names of the stack's AWS::IoT::MitigationAction resources: a rule naming any other action
    # is a RulesError at load, before anything starts.
    mitigation_action_names: MitigationActionNames = Field(alias="MITIGATION_ACTION_NAMES")
    finding_window_seconds: Annotated[int, Field(ge=10, le=3600)] = Field(alias="FINDING_WINDOW_SECONDS")
    history_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(alias="HISTORY_RETENTION_DAYS")
    # The stack's kill switch (an SSM parameter name, as AWS::SSM::Parameter's Ref gives it).
    kill_switch_parameter_name: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^/?[a-zA-Z0-9_.\-/]+$")
    ] = Field(alias="KILL_SWITCH_PARAMETER_NAME")
    # Opt-in: X-Ray subsegments for every AWS call through Powertools' Tracer, at the price of the
    # X-Ray SDK's import on the first invocation. Lambda's active tracing needs no setting.
    trace_aws_calls: bool = Field(default=False, alias="TRACE_AWS_CALLS")

    @property
    def region(self) -> str:
        return self.audit_events_topic_arn.split(":")[3]

    @property
    def account_id(self) -> str:
        return self.audit_events_topic_arn.split(":")[4]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "AuditEventsSettings":
        return settings_from_environment(cls, environ, "AuditEventsFunction")
