"""What the pre-start analysis receives from the workflow and returns to it (camelCase on the wire).

Only ids and counts travel back: the tasks to start, and per planned group its status, its counts and
at most MAX_HELD_LISTED of the findings it holds back.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.models.identifiers import AuditTaskId, CheckName, FindingId, MitigationTaskId
from audit_remediator.models.plan import MitigationTaskSpec, Mode, RemediationMode

# A group that holds back some findings is started with explicit findingIds targets (25 per task, the
# API's limit); more tasks than this for one group wait for a human instead.
MAX_EXPLICIT_TASKS_PER_GROUP = 20
# What comes back must fit Step Functions' 256 KiB state with room to spare: at most this many tasks
# (about 1.5 KB each with 25 finding ids) and groups (about 3 KB each with their held findings listed).
MAX_TASKS_PER_EXECUTION = 40
MAX_HELD_LISTED = 10
MAX_GROUPS = 25

# AWAITING_APPROVAL: held for a human, nothing of it in this run (too many tasks for one execution);
# APPROVAL_REQUESTED: its tasks go on in mode approve and wait for an operator's decision.
GroupStatus = Literal[
    "READY", "APPROVAL_REQUESTED", "AWAITING_APPROVAL", "NOTHING_TO_START", "ANALYSIS_FAILED"
]
HeldStatus = Literal["EXCLUDED", "ESCALATED"]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class AnalysisRequest(_Wire):
    """The plan's groups, before any of them starts."""

    audit_task_id: AuditTaskId
    rules_version: str
    remediation_mode: RemediationMode
    tasks: list[MitigationTaskSpec] = Field(max_length=MAX_GROUPS)


class HeldFinding(_Wire):
    """A finding the group will not act on, and why."""

    finding_id: FindingId
    check: CheckName
    resource: str
    status: HeldStatus
    reason: str


class GroupAnalysis(_Wire):
    """One planned group (task) as analysed: what it affects and what happens to it."""

    task_id: MitigationTaskId
    checks: list[CheckName]
    mode: Mode
    status: GroupStatus
    reason: str
    findings: int = Field(ge=0)
    affected_devices: int = Field(ge=0)
    fleet_size: int | None = None
    started_task_ids: list[MitigationTaskId]
    held: Annotated[list[HeldFinding], Field(max_length=MAX_HELD_LISTED)]
    held_count: int = Field(ge=0)


class AnalysisResult(_Wire):
    tasks: list[MitigationTaskSpec]
    groups: list[GroupAnalysis]

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
