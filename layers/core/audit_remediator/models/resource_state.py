"""What ResourceStateFunction receives from the workflow and returns to it (camelCase on the wire).

One invocation handles one page; the workflow loops while a cursor comes back. Only counts, a cursor and
at most MAX_NOT_VERIFIED_LISTED findings travel through the state.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.models.identifiers import AuditTaskId, CheckName, FindingId, MitigationTaskId
from audit_remediator.models.plan import MitigationTaskSpec

# ListAuditFindings' largest page (botocore: maxResults 1-250); the same number of recorded findings is
# verified per invocation. 100,000 findings take 400 pages each way.
PAGE_SIZE = 250
MAX_NOT_VERIFIED_LISTED = 10

VerificationResult = Literal["verified", "not-verified"]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class FindingsCursor(_Wire):
    """Where the next page of a task's findings starts: the check being listed and IoT's nextToken (None:
    that check's first page)."""

    check: CheckName
    next_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None


class PreStateRequest(_Wire):
    phase: Literal["before"]
    audit_task_id: AuditTaskId
    task: MitigationTaskSpec
    expires_at: int = Field(gt=0)
    cursor: FindingsCursor | None = None
    recorded: int = Field(default=0, ge=0)


class PreStatePage(_Wire):
    recorded: int = Field(ge=0)
    cursor: FindingsCursor | None


class CheckCounts(_Wire):
    """A check's counts as the workflow read them from DescribeAuditMitigationActionsTask."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    total: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    skipped: int | None = None
    canceled: int | None = None

    @property
    def all_succeeded(self) -> bool:
        return not (self.failed or self.skipped or self.canceled) and self.succeeded == self.total


class NotVerified(_Wire):
    finding_id: FindingId
    check: CheckName
    iot_status: str
    reasons: list[str]


class VerificationTotals(_Wire):
    checked: int = Field(default=0, ge=0)
    verified: int = Field(default=0, ge=0)
    not_verified: int = Field(default=0, ge=0)
    # IoT counted the finding's actions as done, yet the resource is not in the state they produce.
    succeeded_not_verified: int = Field(default=0, ge=0)
    # The resource was verified remediated by an earlier audit already (only counted with metrics on).
    recurring: int = Field(default=0, ge=0)
    # Findings whose earlier remediations could not be read: neither recurring nor not, and said so.
    recurrence_unknown: int = Field(default=0, ge=0)
    not_verified_findings: Annotated[list[NotVerified], Field(max_length=MAX_NOT_VERIFIED_LISTED)] = []


class VerificationRequest(_Wire):
    phase: Literal["after"]
    audit_task_id: AuditTaskId
    task_id: MitigationTaskId
    statistics: dict[CheckName, CheckCounts] = {}
    cursor: dict[str, Any] | None = None
    totals: VerificationTotals = VerificationTotals()


class VerificationPage(_Wire):
    totals: VerificationTotals
    cursor: dict[str, Any] | None
