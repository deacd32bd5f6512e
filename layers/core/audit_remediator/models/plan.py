"""What the planner decides, and what the handler hands to the state machine (camelCase on the wire)."""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.models.identifiers import (
    AccountId,
    AuditTaskId,
    CheckName,
    ClientRequestToken,
    ExecutionName,
    FindingId,
    MitigationActionName,
    MitigationTaskId,
    ReasonCode,
)

Mode = Literal["enforce", "approve", "dry-run"]
RemediationMode = Literal["Enforce", "DryRun"]
Decision = Literal["remediate", "no-action", "rejected", "duplicate"]
Kind = Literal["audit", "finding", "unknown"]

# API limits of StartAuditMitigationActionsTask (botocore model).
MAX_FINDING_IDS_PER_TASK = 25
MAX_ACTIONS_PER_CHECK = 5
MAX_REASON_CODES_PER_CHECK = 25


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class AuditFilterTarget(_Wire):
    """All findings of one audit, filtered by check and reason code: one call covers any number."""

    audit_task_id: AuditTaskId
    audit_check_to_reason_code_filter: dict[
        CheckName, Annotated[list[ReasonCode], Field(min_length=1, max_length=MAX_REASON_CODES_PER_CHECK)]
    ] = Field(min_length=1)


class FindingIdsTarget(_Wire):
    finding_ids: list[FindingId] = Field(min_length=1, max_length=MAX_FINDING_IDS_PER_TASK)


class ApprovalNeed(_Wire):
    """Why a group waits for an operator before it starts, and what it would affect."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    findings: int | None = Field(default=None, ge=0)
    affected_devices: int | None = Field(default=None, ge=0)


class MitigationTaskSpec(_Wire):
    """One StartAuditMitigationActionsTask call, exactly as it would be made; `approval` is set on a
    group that waits for an operator (mode approve)."""

    task_id: MitigationTaskId
    client_request_token: ClientRequestToken
    mode: Mode
    target: AuditFilterTarget | FindingIdsTarget
    audit_check_to_actions_mapping: dict[
        CheckName,
        Annotated[list[MitigationActionName], Field(min_length=1, max_length=MAX_ACTIONS_PER_CHECK)],
    ] = Field(min_length=1)
    checks: list[CheckName]
    affected_resources: int = Field(ge=0)
    approval: ApprovalNeed | None = None


class CappedGroup(_Wire):
    check: CheckName
    affected_resources: int
    max_resources: int
    actions: list[MitigationActionName]


class AuditPlan(_Wire):
    """Input of an audit execution."""

    kind: Literal["audit"] = "audit"
    account_id: AccountId
    audit_task_id: AuditTaskId
    rules_version: str
    remediation_mode: RemediationMode
    tasks: list[MitigationTaskSpec]
    capped: list[CappedGroup]
    skipped: dict[str, str]


class FindingWindow(_Wire):
    inbox_key: str
    closes_at: int
    seconds: int


class FindingWindowPlan(_Wire):
    """Input of a finding window's execution: identical for every finding of the window."""

    kind: Literal["finding-window"] = "finding-window"
    account_id: AccountId
    audit_task_id: AuditTaskId
    rules_version: str
    remediation_mode: RemediationMode
    window: FindingWindow
    check: CheckName
    mode: Mode
    max_resources: int | None
    audit_check_to_actions_mapping: dict[CheckName, list[MitigationActionName]]
    task_id_prefix: Annotated[str, Field(max_length=100, pattern=r"^[a-zA-Z0-9_-]+$")]
    client_request_token_prefix: Annotated[str, Field(max_length=40, pattern=r"^[a-zA-Z0-9_-]+$")]
    # More findings than the window takes: the whole check of the audit as one task (audit filter target, no
    # ids in state), which waits for an operator unless the rule is a dry run.
    over_cap_task: MitigationTaskSpec


class FindingClaim(_Wire):
    """The inbox entry for one finding, written once (conditional put) so a re-delivery is a duplicate."""

    finding_id: FindingId
    check: CheckName
    reason_code: ReasonCode


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a finding found: a new claim, an earlier one (with its execution), or a check
    the audit's own execution already covers."""

    status: Literal["new", "earlier", "covered"]
    execution_name: str
    execution_input: str


@dataclass(frozen=True, slots=True)
class StartedExecution:
    """What StartExecution answered: `already_existed` for a run that started before this call."""

    execution_arn: str
    already_existed: bool


@dataclass(frozen=True, slots=True)
class OnceKey:
    """What makes two deliveries the same: the idempotency key, a business key (never the SNS
    MessageId). The rules version is part of it, so a new rules table plans again."""

    kind: Literal["audit", "finding"]
    account_id: AccountId
    audit_task_id: AuditTaskId
    rules_version: str
    finding_id: FindingId | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """What starting once did, as the idempotency store keeps it; `replayed` marks the stored copy
    returned to a later delivery."""

    execution_name: str
    execution_input: str
    already_existed: bool
    covered: bool = False
    replayed: bool = False


class ExecutionRequest(_Wire):
    name: ExecutionName
    input: AuditPlan | FindingWindowPlan


class Outcome(_Wire):
    """The handler's result, also what `make replay` prints."""

    decision: Decision
    kind: Kind
    reason: str
    rules_version: str | None
    execution: ExecutionRequest | None
    mitigation_tasks: list[MitigationTaskSpec]
    skipped: dict[str, str]
