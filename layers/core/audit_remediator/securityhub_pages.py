"""The workflow's three Security Hub steps, up to FINDINGS_PER_INVOCATION findings per invocation (only
counts and a cursor travel through the workflow's state):

- `awaiting-approval`: every finding of a group that waits for an operator becomes `NOTIFIED` (the
  resource owner has been asked); the findings are the group's target, paged from IoT as the pre-state
  record pages them;
- `approval-ended`: when that approval ends with nothing started (rejected, expired, or never recorded),
  the same findings, paged the same way, go back to `NEW` with a note saying what happened: `NOTIFIED`
  means the resource owner was asked to act (Security Hub API reference, `Workflow.Status`:
  https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_Workflow.html), and now nobody will.
  Only findings still `NOTIFIED` change; one the security team moved meanwhile keeps its status;
- `verified`: after a task's verification, each finding recorded `verified` on its pre-state record
  becomes `RESOLVED`, each `not-verified` one keeps its status and gets a note saying so; the results are
  paged from the pre-state records, never carried in the state.

All go through `sync_findings`: a Security Hub failure is counted, never raised, and with the sync off
nothing is read or called.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from audit_remediator.impact import AuditFindingView
from audit_remediator.models.identifiers import AuditTaskId, MitigationTaskId
from audit_remediator.models.plan import MitigationTaskSpec
from audit_remediator.models.resource_state import PAGE_SIZE, FindingsCursor, VerificationResult
from audit_remediator.securityhub_sync import (
    MAX_EVENT,
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
    # Noted with their status left as it was (not in the status the step changes).
    kept_status: int = Field(default=0, ge=0)
    # Security Hub's error codes for what it did not update, each once.
    error_codes: Annotated[list[str], Field(max_length=MAX_ERROR_CODES)] = []


class _GroupPage(_Wire):
    audit_task_id: AuditTaskId
    task: MitigationTaskSpec
    report: Annotated[str, Field(min_length=1, max_length=300)]
    cursor: FindingsCursor | None = None
    totals: PageTotals = PageTotals()


class AwaitingApprovalPage(_GroupPage):
    page: Literal["awaiting-approval"]


NOTHING_STARTED = "; nothing was started"


class EndedApproval(_Wire):
    """How a group's approval ended, as the workflow recorded it in the task's outcome."""

    status: Literal["APPROVAL_REJECTED", "APPROVAL_EXPIRED", "APPROVAL_FAILED"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    # A rejection's answer as the workflow caught it: the operator's JSON (decidedBy, reason).
    detail: Annotated[str, Field(max_length=32768)] | None = None

    def event(self) -> str:
        """What happened, in plain words, within the note's event length."""
        said = self.reason.removesuffix(NOTHING_STARTED)
        if self.status == "APPROVAL_REJECTED":
            answer = _rejection(self.detail)
            by = answer.get("decidedBy")
            why = answer.get("reason") or "no reason given"
            lead = f"approval rejected by {by}: {why}" if by else f"approval {said}"
        elif self.status == "APPROVAL_EXPIRED":
            lead = f"approval expired: {said}"
        else:
            lead = said
        room = MAX_EVENT - len(NOTHING_STARTED)
        return (lead if len(lead) <= room else lead[: room - 1] + "…") + NOTHING_STARTED


def _rejection(detail: str | None) -> dict[str, str]:
    try:
        answer = json.loads(detail or "")
    except ValueError:
        return {}
    return {k: str(v) for k, v in answer.items() if isinstance(v, str)} if isinstance(answer, dict) else {}


class ApprovalEndedPage(_GroupPage):
    page: Literal["approval-ended"]
    outcome: EndedApproval


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
        kept_status=totals.kept_status + sum(len(r.kept_status) for r in results),
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
    return _group_page(
        request,
        findings,
        hub,
        (SyncedStatus.NOTIFIED, "awaiting an operator's approval before its mitigation task starts"),
        updated_by=updated_by,
    )


def return_unapproved(
    request: ApprovalEndedPage,
    findings: TaskFindings,
    hub: SecurityHubFindingsPort | None,
    *,
    updated_by: str,
) -> PageResult:
    """The group's findings still NOTIFIED go back to NEW; every one gets the note."""
    return _group_page(
        request,
        findings,
        hub,
        (SyncedStatus.NEW, request.outcome.event()),
        only_from=SyncedStatus.NOTIFIED,
        updated_by=updated_by,
    )


def _group_page(
    request: _GroupPage,
    findings: TaskFindings,
    hub: SecurityHubFindingsPort | None,
    change: tuple[SyncedStatus, str],
    *,
    updated_by: str,
    only_from: SyncedStatus | None = None,
) -> PageResult:
    """One invocation's pages of a group's target findings (read from IoT), set to `change`."""
    if hub is None:
        return PageResult(sync="off", totals=request.totals, cursor=None)
    ids: list[str] = []
    cursor = request.cursor
    while True:
        page, cursor = findings.page(request.audit_task_id, request.task, cursor)
        ids += [finding.finding_id for finding in page]
        if cursor is None or len(ids) >= FINDINGS_PER_INVOCATION:
            break
    status, event = change
    results = _sync(
        hub,
        updated_by,
        [(ids, status, event)],
        mitigation_task_id=request.task.task_id,
        report=request.report,
        only_from=only_from,
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
    only_from: SyncedStatus | None = None,
) -> list[SecurityHubSyncResult]:
    return [
        sync_findings(
            SecurityHubSyncRequest(
                finding_ids=list(ids),
                workflow_status=status,
                only_from=only_from if status is not None else None,
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
