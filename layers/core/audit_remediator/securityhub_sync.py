"""Keeps Device Defender findings' Security Hub workflow in step with what the service did.

One entry point, `sync_findings`: given Device Defender finding ids, a workflow status (`NEW`,
`NOTIFIED`, `RESOLVED`, or none to leave it) and a note (what happened, the mitigation task and where
the report is), it finds their Security Hub findings and
updates them. It never raises for a Security Hub failure: what was not updated is reported (not found,
unprocessed with Security Hub's error code, or the failed call), and remediation goes on. With the sync
switched off it makes no call at all.

Who calls it with which status:
- `NOTIFIED` while a group awaits approval (the resource owner has been asked);
- `RESOLVED` once a finding's resource is verified remediated;
- `NEW` when a rollback restored the resource, and when a group's approval ended with nothing started
  (rejected, expired, or never recorded): then only the findings still `NOTIFIED` change, so a status the
  security team chose meanwhile (say `SUPPRESSED`) stands;
- no status, a note only, when a mitigation task COMPLETED on the finding (IoT counted it; that is not
  yet a verification).
"""

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audit_remediator.adapters.securityhub import HubFinding, Unprocessed
from audit_remediator.errors import SecurityHubCallError
from audit_remediator.models.identifiers import FindingId, MitigationTaskId

MAX_NOTE: int = 512  # Security Hub's Note.Text limit
MAX_FINDINGS_PER_SYNC: int = 10_000
MAX_EVENT: int = 200  # what happened, within the note


class SyncedStatus(StrEnum):
    NEW = "NEW"
    NOTIFIED = "NOTIFIED"
    RESOLVED = "RESOLVED"


class SecurityHubSyncRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    finding_ids: Annotated[list[FindingId], Field(min_length=1, max_length=MAX_FINDINGS_PER_SYNC)] = Field(
        alias="findingIds"
    )
    workflow_status: SyncedStatus | None = Field(default=None, alias="workflowStatus")
    # Set the status only on findings now in this one; the others get the note and keep theirs.
    only_from: SyncedStatus | None = Field(default=None, alias="onlyFrom")
    # The note: what happened, the mitigation task, and where the report is.
    event: Annotated[str, Field(min_length=1, max_length=MAX_EVENT)]
    mitigation_task_id: MitigationTaskId = Field(alias="mitigationTaskId")
    report: Annotated[str, Field(min_length=1, max_length=300)]

    @model_validator(mode="after")
    def _only_from_names_a_change(self) -> "SecurityHubSyncRequest":
        if self.only_from is not None and self.workflow_status is None:
            raise ValueError("onlyFrom needs a workflowStatus: it says which findings take that status")
        return self

    @property
    def note(self) -> str:
        return remediation_note(
            event=self.event, mitigation_task_id=self.mitigation_task_id, report=self.report
        )


class UnprocessedFinding(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    finding_id: str = Field(alias="findingId")
    error_code: str = Field(alias="errorCode")
    error_message: str = Field(alias="errorMessage")


class SecurityHubSyncResult(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    sync: Literal["off", "done", "partial"]
    workflow_status: SyncedStatus | None = Field(default=None, alias="workflowStatus")
    updated: list[str] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list, alias="notFound")
    unprocessed: list[UnprocessedFinding] = Field(default_factory=list)
    # Noted, but not in the request's `onlyFrom` status, so their status was left as it was.
    kept_status: list[str] = Field(default_factory=list, alias="keptStatus")


class SecurityHubFindingsPort(Protocol):
    def find(
        self, finding_ids: Sequence[str]
    ) -> Iterable[tuple[Sequence[str], list[HubFinding] | SecurityHubCallError]]: ...

    def update(
        self, findings: Sequence[HubFinding], *, workflow_status: str | None, note: str, updated_by: str
    ) -> list[Unprocessed]: ...


def remediation_note(*, event: str, mitigation_task_id: str, report: str) -> str:
    """The note the security team reads: what happened, the mitigation task and where the report is."""
    text = f"IoT Audit Remediator: {event}. Mitigation task {mitigation_task_id}. Report: {report}"
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def sync_findings(
    request: SecurityHubSyncRequest, hub: SecurityHubFindingsPort | None, *, updated_by: str
) -> SecurityHubSyncResult:
    """`hub` is None when the sync is off: nothing is called."""
    if hub is None:
        return SecurityHubSyncResult(sync="off", workflow_status=request.workflow_status)
    wanted = list(dict.fromkeys(request.finding_ids))
    found: list[HubFinding] = []
    failed: list[UnprocessedFinding] = []
    for chunk, outcome in hub.find(wanted):
        if isinstance(outcome, SecurityHubCallError):
            failed += [
                UnprocessedFinding(finding_id=f, error_code=outcome.code, error_message=str(outcome))
                for f in chunk
            ]
        else:
            found += outcome
    located = {f.finding_id for f in found}
    looked_up = {u.finding_id for u in failed}
    not_found = [f for f in wanted if f not in located and f not in looked_up]
    status = request.workflow_status.value if request.workflow_status is not None else None
    # BatchUpdateFindings takes no condition (botocore's model): a status changed between this read and
    # the update below is overwritten.
    if status is not None and request.only_from is not None:
        kept = [f for f in found if f.workflow_status != request.only_from.value]
        changing = [f for f in found if f.workflow_status == request.only_from.value]
    else:
        kept, changing = [], found
    refused = [
        *(
            hub.update(changing, workflow_status=status, note=request.note, updated_by=updated_by)
            if changing
            else []
        ),
        *(hub.update(kept, workflow_status=None, note=request.note, updated_by=updated_by) if kept else []),
    ]
    failed += [
        UnprocessedFinding(finding_id=u.finding_id, error_code=u.error_code, error_message=u.error_message)
        for u in refused
    ]
    refused_ids = {u.finding_id for u in refused}
    updated = [f.finding_id for f in found if f.finding_id not in refused_ids]
    return SecurityHubSyncResult(
        sync="done" if not (failed or not_found) else "partial",
        workflow_status=request.workflow_status,
        updated=list(dict.fromkeys(updated)),
        not_found=not_found,
        unprocessed=failed,
        kept_status=list(dict.fromkeys(f.finding_id for f in kept if f.finding_id not in refused_ids)),
    )
