"""What RollbackFunction receives from the command line and returns to it (camelCase on the wire).

One invocation handles one page of an audit's pre-state records; the command line invokes again with the
cursor and the running totals while a cursor comes back. Only counts, a cursor and at most MAX_LISTED
records travel: an audit of 100,000 findings never puts its records in memory or in a response at once.
"""

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from audit_remediator.models.identifiers import AuditTaskId, FindingId

# Records read (one DynamoDB Query page) per invocation: each costs a few IoT reads and writes, so a page
# stays well inside the function's timeout even when IoT throttles.
PAGE_SIZE = 100
MAX_LISTED = 100

RollbackResult = Literal["restored", "already-restored", "refused-drifted", "forced"]
# What a record came to in this run: a rollback result, or `failed` (an IoT call failed; nothing recorded,
# a second run tries again), `manual` (the service cannot restore it itself; the item says how) or
# `refused-shared` (one thing's rollback would reactivate a certificate other things hold; nothing recorded).
Outcome = Literal[
    "restored",
    "already-restored",
    "refused-drifted",
    "refused-shared",
    "forced",
    "failed",
    "manual",
    "would-restore",
]

ThingName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9:_-]+$")]
CallerArn = Annotated[
    str, Field(min_length=20, max_length=2048, pattern=r"^arn:aws[a-z-]*:(sts|iam)::[0-9]{12}:.+$")
]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class RolledBackItem(_Wire):
    finding_id: str
    task_id: str
    check: str
    outcome: Outcome
    # What was restored (or would be, or why not), one plain line per field.
    details: list[str] = Field(default_factory=list)


class RollbackTotals(_Wire):
    records: int = Field(default=0, ge=0)
    restored: int = Field(default=0, ge=0)
    already_restored: int = Field(default=0, ge=0)
    refused_drifted: int = Field(default=0, ge=0)
    refused_shared: int = Field(default=0, ge=0)
    forced: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    manual: int = Field(default=0, ge=0)
    would_restore: int = Field(default=0, ge=0)
    security_hub_updated: int = Field(default=0, ge=0)
    security_hub_not_updated: int = Field(default=0, ge=0)
    items: Annotated[list[RolledBackItem], Field(max_length=MAX_LISTED)] = Field(default_factory=list)

    def counted(self, item: RolledBackItem) -> "RollbackTotals":
        key = item.outcome.replace("-", "_")
        listed = self.items if len(self.items) >= MAX_LISTED else [*self.items, item]
        return self.model_copy(
            update={"records": self.records + 1, key: getattr(self, key) + 1, "items": listed}
        )


# The continuation: DynamoDB's LastEvaluatedKey of the audit's records ({"pk": {"S": ...}, "sk": {"S": ...}}).
Cursor = dict[Literal["pk", "sk"], dict[Literal["S"], Annotated[str, Field(min_length=1, max_length=1024)]]]


class RollbackRequest(_Wire):
    audit_task_id: AuditTaskId
    thing: ThingName | None = None
    finding_id: FindingId | None = None
    all: bool = False
    force: bool = False
    dry_run: bool = False
    caller_arn: CallerArn
    cursor: Cursor | None = None
    totals: RollbackTotals = Field(default_factory=RollbackTotals)

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        chosen = [name for name, value in (("thing", self.thing), ("findingId", self.finding_id)) if value]
        chosen += ["all"] if self.all else []
        if len(chosen) != 1:
            raise ValueError(
                f"name exactly one of thing, findingId or all (got {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def scope(self) -> str:
        if self.thing:
            return f"thing {self.thing}"
        return f"finding {self.finding_id}" if self.finding_id else "every record"


class RollbackPage(_Wire):
    totals: RollbackTotals
    cursor: Cursor | None
    reported: bool = False
