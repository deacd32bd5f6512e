"""The workflow's Security Hub steps page their findings: at most FINDINGS_PER_INVOCATION a call with a
cursor for the rest, verified findings RESOLVED and not-verified ones noted with their status left alone,
a group whose approval ended back to NEW (only those still NOTIFIED) with a note saying why, and with the
sync off nothing read at all."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from audit_remediator.adapters.securityhub import HubFinding, Unprocessed
from audit_remediator.errors import SecurityHubCallError
from audit_remediator.impact import AuditFindingView
from audit_remediator.models.plan import MitigationTaskSpec
from audit_remediator.models.resource_state import FindingsCursor, VerificationResult
from audit_remediator.securityhub_pages import (
    FINDINGS_PER_INVOCATION,
    VERIFIED_PAGE_SIZE,
    ApprovalEndedPage,
    AwaitingApprovalPage,
    EndedApproval,
    VerifiedPage,
    mark_awaiting_approval,
    resolve_verified,
    return_unapproved,
)
from audit_remediator.securityhub_sync import MAX_EVENT

CHECK = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
TASK = MitigationTaskSpec.model_validate(
    {
        "taskId": "task-1",
        "clientRequestToken": "token-1",
        "mode": "approve",
        "target": {
            "auditTaskId": "a" * 32,
            "auditCheckToReasonCodeFilter": {CHECK: ["CERTIFICATE_APPROACHING_EXPIRATION"]},
        },
        "auditCheckToActionsMapping": {CHECK: ["iot-audit-remediator-DeactivateDeviceCertificateAction"]},
        "checks": [CHECK],
        "affectedResources": 3,
    }
)


class Hub:
    """Security Hub holding one finding per Device Defender finding id, recording each update."""

    def __init__(
        self, missing: frozenset[str] = frozenset(), statuses: Mapping[str, str] | None = None
    ) -> None:
        self.missing = missing
        self.statuses = dict(statuses or {})
        self.updates: list[tuple[list[str], str | None, str]] = []

    def find(
        self, finding_ids: Sequence[str]
    ) -> Iterable[tuple[Sequence[str], list[HubFinding] | SecurityHubCallError]]:
        for start in range(0, len(finding_ids), 20):
            chunk = finding_ids[start : start + 20]
            yield (
                chunk,
                [
                    HubFinding(f, f"sh-{f}", "arn:product", self.statuses.get(f, "NEW"), "ACTIVE")
                    for f in chunk
                    if f not in self.missing
                ],
            )

    def update(
        self, findings: Sequence[HubFinding], *, workflow_status: str | None, note: str, updated_by: str
    ) -> list[Unprocessed]:
        self.updates.append(([f.finding_id for f in findings], workflow_status, note))
        return []


class Findings:
    """A task's findings, in pages of `size`."""

    def __init__(self, total: int, size: int = 250) -> None:
        self.ids = [f"f-{n}" for n in range(total)]
        self.size = size
        self.reads = 0

    def page(
        self, audit_task_id: str, task: MitigationTaskSpec, cursor: FindingsCursor | None
    ) -> tuple[list[AuditFindingView], FindingsCursor | None]:
        self.reads += 1
        start = int(cursor.next_token) if cursor and cursor.next_token else 0
        end = start + self.size
        page = [
            AuditFindingView(f, CHECK, "CERTIFICATE_APPROACHING_EXPIRATION", "DEVICE_CERTIFICATE", {})
            for f in self.ids[start:end]
        ]
        return page, (FindingsCursor(check=CHECK, next_token=str(end)) if end < len(self.ids) else None)


class Results:
    def __init__(self, results: Sequence[tuple[str, VerificationResult]]) -> None:
        self.results = list(results)
        self.reads = 0

    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[tuple[str, VerificationResult]], dict[str, Any] | None]:
        self.reads += 1
        start = int(cursor["at"]) if cursor else 0
        end = start + page_size
        return self.results[start:end], ({"at": end} if end < len(self.results) else None)


def _waiting(cursor: dict[str, Any] | None = None) -> AwaitingApprovalPage:
    return AwaitingApprovalPage.model_validate(
        {
            "page": "awaiting-approval",
            "auditTaskId": "a" * 32,
            "task": TASK.model_dump(by_alias=True),
            "report": "r",
            "cursor": cursor,
        }
    )


def test_a_waiting_group_is_notified_a_batch_of_pages_at_a_time_until_its_cursor_ends() -> None:
    # Given a group of more findings than one invocation takes
    findings, hub = Findings(FINDINGS_PER_INVOCATION + 10), Hub()

    # When the step runs until no cursor comes back
    first = mark_awaiting_approval(_waiting(), findings, hub, updated_by="stack")
    assert first.cursor is not None
    second = mark_awaiting_approval(
        _waiting(first.cursor).model_copy(update={"totals": first.totals}), findings, hub, updated_by="stack"
    )

    # Then every finding was set NOTIFIED exactly once, in two invocations, with counts carried over
    notified = [f for ids, status, _ in hub.updates for f in ids if status == "NOTIFIED"]
    assert sorted(notified) == sorted(findings.ids)
    assert len(hub.updates) == 2
    assert second.cursor is None
    assert second.totals.updated == len(findings.ids)
    assert all("approval" in note and "task-1" in note for _, _, note in hub.updates)


def test_verified_findings_are_resolved_and_not_verified_ones_only_noted() -> None:
    results = Results([("f-1", "verified"), ("f-2", "not-verified"), ("f-3", "verified")])
    hub = Hub(missing=frozenset({"f-3"}))
    request = VerifiedPage.model_validate(
        {"page": "verified", "auditTaskId": "a" * 32, "taskId": "task-1", "report": "r"}
    )

    result = resolve_verified(request, results, hub, updated_by="stack")

    assert [(ids, status) for ids, status, _ in hub.updates] == [(["f-1"], "RESOLVED"), (["f-2"], None)]
    assert "NOT verified" in hub.updates[1][2]
    assert (result.sync, result.totals.updated, result.totals.not_found) == ("partial", 2, 1)
    assert result.cursor is None


def test_a_verified_task_reads_at_most_one_batch_of_pages_per_invocation() -> None:
    results = Results([(f"f-{n}", "verified") for n in range(FINDINGS_PER_INVOCATION + 1)])
    request = VerifiedPage.model_validate(
        {"page": "verified", "auditTaskId": "a" * 32, "taskId": "task-1", "report": "r"}
    )

    result = resolve_verified(request, results, Hub(), updated_by="stack")

    assert results.reads == FINDINGS_PER_INVOCATION // VERIFIED_PAGE_SIZE
    assert result.cursor == {"at": FINDINGS_PER_INVOCATION}
    assert result.totals.updated == FINDINGS_PER_INVOCATION


@pytest.mark.parametrize("step", ["awaiting-approval", "approval-ended", "verified"])
def test_with_the_sync_off_nothing_is_read(step: str) -> None:
    findings, results = Findings(3), Results([("f-1", "verified")])

    if step == "verified":
        request = VerifiedPage.model_validate(
            {"page": "verified", "auditTaskId": "a" * 32, "taskId": "task-1", "report": "r"}
        )
        result = resolve_verified(request, results, None, updated_by="stack")
    elif step == "approval-ended":
        result = return_unapproved(_ended(REJECTED), findings, None, updated_by="stack")
    else:
        result = mark_awaiting_approval(_waiting(), findings, None, updated_by="stack")

    assert (result.sync, result.cursor) == ("off", None)
    assert findings.reads == results.reads == 0


OPERATOR = "arn:aws:sts::123456789012:assumed-role/Operator/alice"
REJECTED = {
    "status": "APPROVAL_REJECTED",
    "reason": "rejected; nothing was started",
    "detail": json.dumps({"decision": "rejected", "decidedBy": OPERATOR, "reason": "change freeze"}),
}


def _ended(outcome: Mapping[str, Any], cursor: dict[str, Any] | None = None) -> ApprovalEndedPage:
    return ApprovalEndedPage.model_validate(
        {
            "page": "approval-ended",
            "auditTaskId": "a" * 32,
            "task": TASK.model_dump(by_alias=True),
            "outcome": outcome,
            "report": "r",
            "cursor": cursor,
        }
    )


def test_an_ended_approval_returns_only_the_findings_still_notified_to_new_and_notes_every_one() -> None:
    # Given a group's findings NOTIFIED, one of which the security team SUPPRESSED while it waited
    findings = Findings(3)
    hub = Hub(statuses={"f-0": "SUPPRESSED", "f-1": "NOTIFIED", "f-2": "NOTIFIED"})

    # When its approval was rejected
    result = return_unapproved(_ended(REJECTED), findings, hub, updated_by="stack")

    # Then the NOTIFIED ones are NEW again, the suppressed one keeps its status, and all carry the note
    assert [(ids, status) for ids, status, _ in hub.updates] == [(["f-1", "f-2"], "NEW"), (["f-0"], None)]
    assert {note for _, _, note in hub.updates} == {
        f"IoT Audit Remediator: approval rejected by {OPERATOR}: change freeze; nothing was started. "
        "Mitigation task task-1. Report: r"
    }
    assert (result.sync, result.totals.updated, result.totals.kept_status, result.cursor) == (
        "done",
        3,
        1,
        None,
    )


def test_an_ended_approval_pages_its_findings_as_the_notified_step_does() -> None:
    findings, hub = Findings(FINDINGS_PER_INVOCATION + 10), Hub()

    first = return_unapproved(_ended(REJECTED), findings, hub, updated_by="stack")
    assert first.cursor is not None
    second = return_unapproved(
        _ended(REJECTED, first.cursor).model_copy(update={"totals": first.totals}),
        findings,
        hub,
        updated_by="stack",
    )

    # Findings found NEW (the fake's default) were never NOTIFIED: they keep their status and get the note
    noted = [f for ids, _, _ in hub.updates for f in ids]
    assert sorted(noted) == sorted(findings.ids)
    assert (second.cursor, second.totals.updated, second.totals.kept_status) == (
        None,
        len(findings.ids),
        len(findings.ids),
    )


@pytest.mark.parametrize(
    ("outcome", "event"),
    [
        (REJECTED, f"approval rejected by {OPERATOR}: change freeze; nothing was started"),
        (
            {**REJECTED, "detail": json.dumps({"decision": "rejected", "decidedBy": OPERATOR, "reason": ""})},
            f"approval rejected by {OPERATOR}: no reason given; nothing was started",
        ),
        ({**REJECTED, "detail": "not the operator's JSON"}, "approval rejected; nothing was started"),
        (
            {"status": "APPROVAL_EXPIRED", "reason": "not approved within 86400 s; nothing was started"},
            "approval expired: not approved within 86400 s; nothing was started",
        ),
        (
            {
                "status": "APPROVAL_EXPIRED",
                "reason": "not approved: expired at 2026-01-02T03:04:05+00:00: kill switch pulled; "
                "nothing was started",
            },
            "approval expired: not approved: expired at 2026-01-02T03:04:05+00:00: kill switch pulled; "
            "nothing was started",
        ),
        (
            {
                "status": "APPROVAL_FAILED",
                "reason": "the approval could not be requested: States.TaskFailed: boom; nothing was started",
            },
            "the approval could not be requested: States.TaskFailed: boom; nothing was started",
        ),
    ],
)
def test_the_note_says_how_the_approval_ended(outcome: Mapping[str, Any], event: str) -> None:
    assert EndedApproval.model_validate(outcome).event() == event


def test_a_long_failure_is_cut_and_still_says_nothing_was_started() -> None:
    reason = "the approval could not be requested: Lambda.Unknown: " + "x" * 300 + "; nothing was started"

    event = EndedApproval.model_validate({"status": "APPROVAL_FAILED", "reason": reason}).event()

    assert len(event) == MAX_EVENT
    assert event.endswith("…; nothing was started")
    assert event.startswith("the approval could not be requested: Lambda.Unknown: xxx")


def test_an_outcome_that_is_not_an_ended_approval_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"outcome\.status"):
        _ended({"status": "COMPLETED", "reason": "done"})
