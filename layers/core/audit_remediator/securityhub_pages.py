"""The workflow's two Security Hub steps, up to FINDINGS_PER_INVOCATION findings per invocation (only
counts and a cursor travel through the workflow's state):

- `awaiting-approval`: every finding of a group that waits for an operator becomes `NOTIFIED` (the
  resource owner has been asked); the findings are the group's target, paged from IoT as the pre-state
  record pages them;
- `verified`: after a task's verification, each finding recorded `verified` on its pre-state record
  becomes `RESOLVED`, each `not-verified` one keeps its status and gets a note saying so; the results are
  paged from the pre-state records, never carried in the state.

Both go through `sync_findings`: a Security Hub failure is counted, never raised, and with the sync off
nothing is read or called.
"""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.impact import AuditFindingView
from audit_remediator.models.identifiers import AuditTaskId, MitigationTaskId
from audit_remediator.models.plan import MitigationTaskSpec
from audit_remediator.models.resource_state import PAGE_SIZE, FindingsCursor, VerificationResult
from audit_remediator.securityhub_sync import (
    SecurityHubFindingsPort,
    SecurityHubSyncRequest,
    SecurityHubSyncResult,
    SyncedStatus,
    sync_findings,
)

# Pre-state records read per query (the pre-state's own page size).
VERIFIED_PAGE_SIZE = PAGE_SIZE
# Findings taken per invocation: 4 pages. GetFindings takes 20 ids a call at 3 calls a second, so 50 calls
# take under 20 s of the function's 300; 100,000 findings then cost the workflow 100 loops, not 400.
FINDINGS_PER_INVOCATION = 4 * PAGE_SIZE


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


MAX_ERROR_CODES = 10


class PageTotals(_Wire):
    updated: int = Field(default=0, ge=0)
    not_found: int = Field(default=0, ge=0)
    unprocessed: int = Field(default=0, ge=0)
    # Security Hub's error codes for what it did not update, each once.
    error_codes: Annotated[list[str], Field(max_length=MAX_ERROR_CODES)] = []


class AwaitingApprovalPage(_Wire):
    page: Literal["awaiting-approval"]
    audit_task_id: AuditTaskId
    task: MitigationTaskSpec
    report: Annotated[str, Field(min_length=1, max_length=300)]
    cursor: FindingsCursor | None = None
    totals: PageTotals = PageTotals()


class VerifiedPage(_Wire):
    page: Literal["verified"]
    audit_task_id: AuditTaskId
    task_id: MitigationTaskId
    report: Annotated[str, Field(min_length=1, max_length=300)]
    cursor: dict[str, Any] | None = None
    totals: PageTotals = PageTotals()


class PageResult(_Wire):
    sync: Literal["off", "done", "partial"]
    totals: PageTotals
    # Where the next page starts; None when every page is done (or the sync is off).
    cursor: dict[str, Any] | None


class TaskFindings(Protocol):
    def page(
        self, audit_task_id: str, task: MitigationTaskSpec, cursor: FindingsCursor | None
    ) -> tuple[list[AuditFindingView], FindingsCursor | None]: ...


class VerificationResults(Protocol):
    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[tuple[str, VerificationResult]], dict[str, Any] | None]:
        """(finding id, result) of the task's pre-state records that were verified, one page."""
        ...


def _add(totals: PageTotals, results: Sequence[SecurityHubSyncResult]) -> PageTotals:
    return PageTotals(
        updated=totals.updated + sum(len(r.updated) for r in results),
        not_found=totals.not_found + sum(len(r.not_found) for r in results),
        unprocessed=totals.unprocessed + sum(len(r.unprocessed) for r in results),
        error_codes=list(
            dict.fromkeys([*totals.error_codes, *(u.error_code for r in results for u in r.unprocessed)])
        )[:MAX_ERROR_CODES],
    )


def _outcome(results: Sequence[SecurityHubSyncResult]) -> Literal["done", "partial"]:
    return "partial" if any(r.sync == "partial" for r in results) else "done"


def mark_awaiting_approval(
    request: AwaitingApprovalPage,
    findings: TaskFindings,
    hub: SecurityHubFindingsPort | None,
    *,
    updated_by: str,
) -> PageResult:
    if hub is None:
        return PageResult(sync="off", totals=request.totals, cursor=None)
    ids: list[str] = []
    cursor = request.cursor
    while True:
        page, cursor = findings.page(request.audit_task_id, request.task, cursor)
        ids += [finding.finding_id for finding in page]
        if cursor is None or len(ids) >= FINDINGS_PER_INVOCATION:
            break
    results = _sync(
        hub,
        updated_by,
        [
            (
                ids,
                SyncedStatus.NOTIFIED,
                "awaiting an operator's approval before its mitigation task starts",
            )
        ],
        mitigation_task_id=request.task.task_id,
        report=request.report,
    )
    return PageResult(
        sync=_outcome(results),
        totals=_add(request.totals, results),
        cursor=cursor.model_dump(mode="json", by_alias=True) if cursor else None,
    )


def resolve_verified(
    request: VerifiedPage,
    verification: VerificationResults,
    hub: SecurityHubFindingsPort | None,
    *,
    updated_by: str,
) -> PageResult:
    if hub is None:
        return PageResult(sync="off", totals=request.totals, cursor=None)
    read: list[tuple[str, VerificationResult]] = []
    cursor = request.cursor
    pages = 0
    while True:
        page, cursor = verification.page(request.audit_task_id, request.task_id, cursor, VERIFIED_PAGE_SIZE)
        read += page
        pages += 1
        if cursor is None or pages * VERIFIED_PAGE_SIZE >= FINDINGS_PER_INVOCATION:
            break
    verified = [finding for finding, result in read if result == "verified"]
    not_verified = [finding for finding, result in read if result == "not-verified"]
    results = _sync(
        hub,
        updated_by,
        [
            (
                verified,
                SyncedStatus.RESOLVED,
                "verified after its mitigation task: the resource is in the state the actions set",
            ),
            (
                not_verified,
                None,
                "NOT verified after its mitigation task: the resource is not in the state the actions "
                "should have set; status left as it was",
            ),
        ],
        mitigation_task_id=request.task_id,
        report=request.report,
    )
    return PageResult(sync=_outcome(results), totals=_add(request.totals, results), cursor=cursor)


def _sync(
    hub: SecurityHubFindingsPort,
    updated_by: str,
    groups: Sequence[tuple[Sequence[str], SyncedStatus | None, str]],
    *,
    mitigation_task_id: str,
    report: str,
) -> list[SecurityHubSyncResult]:
    return [
        sync_findings(
            SecurityHubSyncRequest(
                finding_ids=list(ids),
                workflow_status=status,
                event=event,
                mitigation_task_id=mitigation_task_id,
                report=report,
            ),
            hub,
            updated_by=updated_by,
        )
        for ids, status, event in groups
        if ids
    ]
