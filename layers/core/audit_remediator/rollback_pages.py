"""One invocation of a rollback: one page of an audit's pre-state records, each restored (or refused, or
found already restored), the result written onto its record, the restored findings set back to NEW in
Security Hub, and, once the last page is done, the rollback report published. A dry run reads and
reports what it would restore and writes nothing anywhere.

The kill switch does not stop a rollback: it stops the service from starting mitigations, and a
rollback undoes one; an operator who pulled the switch may well want to undo what already ran.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from audit_remediator.models.rollback import (
    PAGE_SIZE,
    Cursor,
    RollbackPage,
    RollbackRequest,
    RollbackResult,
    RollbackTotals,
)
from audit_remediator.resource_state import ActionCatalog
from audit_remediator.rollback import RollbackRecord, roll_back_record
from audit_remediator.rollback_fields import RestoreIot
from audit_remediator.securityhub_sync import SecurityHubSyncRequest, SecurityHubSyncResult, SyncedStatus

MAX_SUBJECT = 100  # SNS Subject
# The outcomes written onto a record; a failed, manual or dry-run record is left as it was.
RECORDED: Mapping[str, RollbackResult] = {
    "restored": "restored",
    "already-restored": "already-restored",
    "refused-drifted": "refused-drifted",
    "forced": "forced",
}


class RollbackStore(Protocol):
    def page(
        self, audit_task_id: str, cursor: Cursor | None, page_size: int, finding_id: str | None
    ) -> tuple[list[RollbackRecord], Cursor | None]: ...

    def put_result(
        self,
        audit_task_id: str,
        record: RollbackRecord,
        result: RollbackResult,
        caller_arn: str,
        observed: Mapping[str, Any],
    ) -> None:
        """Writes rolledBackAt, rolledBackBy, rollbackResult and rollbackObserved onto the record; an
        `already-restored` or `refused-drifted` never overwrites a restore that came first."""
        ...


class Reports(Protocol):
    def publish(self, subject: str, message: str) -> None: ...


SecurityHubSync = Callable[[SecurityHubSyncRequest], SecurityHubSyncResult]


def _in_scope(request: RollbackRequest, record: RollbackRecord, certificates: frozenset[str]) -> bool:
    """A thing's records: those that recorded its groups, and those of a certificate attached to it."""
    if request.finding_id:
        return record.finding_id == request.finding_id
    if request.thing:
        certificate = (record.before.get("certificate") or {}).get("id")
        return request.thing in (record.before.get("things") or {}) or certificate in certificates
    return True


def _back_to_new(
    request: RollbackRequest, restored: Mapping[str, list[str]], sync: SecurityHubSync
) -> tuple[int, int]:
    updated = not_updated = 0
    for task_id, finding_ids in sorted(restored.items()):
        result = sync(
            SecurityHubSyncRequest(
                finding_ids=finding_ids,
                workflow_status=SyncedStatus.NEW,
                # Only what the service resolved: a status the security team chose since stays, noted.
                only_from=SyncedStatus.RESOLVED,
                event=f"rolled back by {request.caller_arn}"[:200],
                mitigation_task_id=task_id,
                report=f"remediator history {request.audit_task_id}",
            )
        )
        if result.sync != "off":
            updated += len(result.updated)
            not_updated += len(result.not_found) + len(result.unprocessed)
    return updated, not_updated


def report_message(request: RollbackRequest, totals: RollbackTotals) -> tuple[str, str]:
    subject = (
        f"Rollback of audit {request.audit_task_id}: {totals.restored + totals.forced} restored, "
        f"{totals.refused_drifted + totals.refused_shared} refused"
    )[:MAX_SUBJECT]
    lines = [
        f"Rollback of audit {request.audit_task_id} ({request.scope}) by {request.caller_arn}"
        + (" with --force" if request.force else ""),
        f"records {totals.records}: restored {totals.restored}, forced {totals.forced}, already restored "
        f"{totals.already_restored}, refused as changed since {totals.refused_drifted}, refused as shared "
        f"{totals.refused_shared}, failed {totals.failed}, "
        f"to restore by hand {totals.manual}",
        *(
            f"- {i.finding_id} ({i.check}, task {i.task_id}): {i.outcome}: {'; '.join(i.details)}"
            for i in totals.items
        ),
    ]
    if totals.records > len(totals.items):
        lines.append(
            f"({totals.records - len(totals.items)} more: remediator history {request.audit_task_id})"
        )
    document = {
        "kind": "rollback",
        "auditTaskId": request.audit_task_id,
        "summary": "\n".join(lines),
        # The listed records are in the summary already.
        **totals.model_dump(mode="json", by_alias=True, exclude={"items"}),
    }
    return subject, json.dumps(document, sort_keys=True)


def rollback_page(
    request: RollbackRequest,
    store: RollbackStore,
    iot: RestoreIot,
    sync: SecurityHubSync,
    reports: Reports,
) -> RollbackPage:
    catalog = ActionCatalog(iot)
    records, cursor = store.page(request.audit_task_id, request.cursor, PAGE_SIZE, request.finding_id)
    certificates = iot.thing_certificates(request.thing) if request.thing and records else frozenset()
    totals = request.totals
    restored: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if not _in_scope(request, record, certificates):
            continue
        outcome = roll_back_record(
            record, catalog, iot, force=request.force, dry_run=request.dry_run, only_thing=request.thing
        )
        totals = totals.counted(outcome.item)
        result = RECORDED.get(outcome.item.outcome)
        if request.dry_run or outcome.observed is None or result is None:
            continue
        store.put_result(request.audit_task_id, record, result, request.caller_arn, outcome.observed)
        # A record found as before that no rollback has recorded was restored by a run that failed before
        # recording it (or by hand): its finding is open again all the same.
        if result in ("restored", "forced") or (
            result == "already-restored" and record.rollback_result is None
        ):
            restored[record.task_id].append(record.finding_id)
    if restored:
        updated, not_updated = _back_to_new(request, restored, sync)
        totals = totals.model_copy(
            update={
                "security_hub_updated": totals.security_hub_updated + updated,
                "security_hub_not_updated": totals.security_hub_not_updated + not_updated,
            }
        )
    reported = cursor is None and not request.dry_run and totals.records > 0
    if reported:
        reports.publish(*report_message(request, totals))
    return RollbackPage(totals=totals, cursor=cursor, reported=reported)
