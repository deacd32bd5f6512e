"""Pre-state pages and verification rules, with IoT and the table in memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from audit_remediator.checks import ActionType
from audit_remediator.errors import ResourceStateError
from audit_remediator.impact import AuditFindingView
from audit_remediator.models.resource_state import (
    CheckCounts,
    FindingsCursor,
    PreStateRequest,
    VerificationRequest,
)
from audit_remediator.prestate import record_page
from audit_remediator.resource_state import MAX_THINGS_RECORDED, StateRecord, ThingLink
from audit_remediator.verification import verify_page

AUDIT = "audit1"
CERT = "a" * 64
ACTIONS = {
    "stack-Deactivate": {"updateDeviceCertificateParams": {"action": "DEACTIVATE"}},
    "stack-Quarantine": {"addThingsToThingGroupParams": {"thingGroupNames": ["stack-quarantine"]}},
    "stack-Publish": {"publishFindingToSnsParams": {"topicArn": "arn:aws:sns:us-east-1:123456789012:t"}},
    "stack-Blank": {"replaceDefaultPolicyVersionParams": {"templateName": "BLANK_POLICY"}},
}


def finding(n: int, check: str = "DEVICE_CERTIFICATE_SHARED_CHECK") -> AuditFindingView:
    return AuditFindingView(
        f"f{n}",
        check,
        "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES",
        "DEVICE_CERTIFICATE",
        {"deviceCertificateId": f"{n:064x}"},
    )


class FakeIot:
    def __init__(self, pages: Mapping[str, list[list[AuditFindingView]]]) -> None:
        self.pages = pages
        self.things: list[ThingLink] = [ThingLink("t1", None)]
        self.status = "ACTIVE"
        self.default_version: str | None = "1"
        self.blank = False
        self.calls: list[str] = []

    def action_params(self, action_name: str) -> Mapping[str, Any]:
        return ACTIONS[action_name]

    def findings_page(
        self, audit_task_id: str, check: str, next_token: str | None, page_size: int
    ) -> tuple[list[AuditFindingView], str | None]:
        index = int(next_token or 0)
        pages = self.pages[check]
        return pages[index], (str(index + 1) if index + 1 < len(pages) else None)

    def finding(self, finding_id: str) -> AuditFindingView | None:
        return next(
            (f for pages in self.pages.values() for p in pages for f in p if f.finding_id == finding_id), None
        )

    def certificate_status(self, certificate_id: str) -> str | None:
        return self.status

    def ca_certificate_status(self, certificate_id: str) -> str | None:
        return self.status

    def certificate_things(self, certificate_id: str, limit: int) -> list[ThingLink]:
        return self.things[:limit]

    def thing_groups(self, thing_name: str) -> list[str]:
        return ["stack-quarantine"]

    def policy_default_version(self, policy_name: str) -> str | None:
        return self.default_version

    def policy_grants_nothing(self, policy_name: str, version_id: str) -> bool:
        return self.blank

    def logging_options(self) -> dict[str, Any]:
        return {"configured": False}

    def group_policies(self, group_name: str) -> frozenset[str]:
        return frozenset({"stack-deny-all"})

    def finding_action_statuses(self, task_id: str, finding_id: str) -> list[str]:
        self.calls.append(finding_id)
        return ["COMPLETED", "FAILED"]


class FakeStore:
    def __init__(self, records: Sequence[StateRecord] = ()) -> None:
        self.written: dict[str, Mapping[str, Any]] = {}
        self.records = list(records)
        self.results: dict[str, tuple[str, Sequence[str], str]] = {}

    def put_first(
        self,
        audit_task_id: str,
        task_id: str,
        finding: AuditFindingView,
        action_names: Sequence[str],
        action_types: Iterable[ActionType],
        before: Mapping[str, Any],
        expires_at: int,
    ) -> None:
        self.written.setdefault(finding.finding_id, before)

    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[StateRecord], dict[str, Any] | None]:
        return self.records, None

    def put_verification(
        self,
        audit_task_id: str,
        task_id: str,
        finding_id: str,
        result: str,
        observed: Mapping[str, Any],
        reasons: Sequence[str],
        iot_status: str,
    ) -> None:
        self.results[finding_id] = (result, reasons, iot_status)


def audit_task(checks: Mapping[str, list[str]]) -> dict[str, Any]:
    return {
        "taskId": "task1",
        "clientRequestToken": "token1",
        "mode": "enforce",
        "target": {
            "auditTaskId": AUDIT,
            "auditCheckToReasonCodeFilter": {c: ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"] for c in checks},
        },
        "auditCheckToActionsMapping": dict(checks),
        "checks": sorted(checks),
        "affectedResources": 1,
    }


def request(task: dict[str, Any], cursor: FindingsCursor | None = None, recorded: int = 0) -> PreStateRequest:
    return PreStateRequest.model_validate(
        {
            "phase": "before",
            "auditTaskId": AUDIT,
            "task": task,
            "expiresAt": 1,
            "cursor": cursor,
            "recorded": recorded,
        }
    )


def test_pages_run_check_by_check_and_end_with_no_cursor() -> None:
    # Given two checks, the first over two pages
    a, b = "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK", "DEVICE_CERTIFICATE_SHARED_CHECK"
    iot = FakeIot({a: [[finding(1, a)], [finding(2, a)]], b: [[finding(3, b)]]})
    store = FakeStore()
    task = audit_task({a: ["stack-Deactivate"], b: ["stack-Deactivate"]})

    # When the pages are recorded one after the other, as the workflow loops
    cursors, recorded, page = [], 0, record_page(request(task), iot, store)
    while page.cursor is not None:
        cursors.append(page.cursor)
        page = record_page(request(task, page.cursor, page.recorded), iot, store)
    recorded = page.recorded

    # Then each page carries on where the last ended, and every finding is recorded once
    assert cursors == [FindingsCursor(check=a, next_token="1"), FindingsCursor(check=b)]
    assert recorded == 3
    assert sorted(store.written) == ["f1", "f2", "f3"]


def test_a_task_that_only_publishes_records_nothing() -> None:
    iot = FakeIot({"DEVICE_CERTIFICATE_SHARED_CHECK": [[finding(1)]]})
    store = FakeStore()
    page = record_page(
        request(audit_task({"DEVICE_CERTIFICATE_SHARED_CHECK": ["stack-Publish"]})), iot, store
    )
    assert (page.recorded, page.cursor, store.written) == (0, None, {})


def test_a_certificate_shared_by_too_many_things_cannot_be_recorded() -> None:
    iot = FakeIot({"DEVICE_CERTIFICATE_SHARED_CHECK": [[finding(1)]]})
    iot.things = [ThingLink(f"t{n}", None) for n in range(MAX_THINGS_RECORDED + 1)]
    task = audit_task({"DEVICE_CERTIFICATE_SHARED_CHECK": ["stack-Quarantine"]})
    with pytest.raises(ResourceStateError, match=f"more than {MAX_THINGS_RECORDED} things"):
        record_page(request(task), iot, FakeStore())


def record(actions: tuple[str, ...], before: Mapping[str, Any] | None = None) -> StateRecord:
    identifier = {
        "deviceCertificateId": CERT,
        "policyVersionIdentifier": {"policyName": "p", "policyVersionId": "1"},
    }
    return StateRecord("f1", "DEVICE_CERTIFICATE_SHARED_CHECK", identifier, actions, before or {})


def verify(iot: FakeIot, store: FakeStore, statistics: Mapping[str, Any]) -> Any:
    payload = {"phase": "after", "auditTaskId": AUDIT, "taskId": "task1", "statistics": statistics}
    return verify_page(VerificationRequest.model_validate(payload), iot, store, "stack-deny-all")


@pytest.mark.parametrize(
    ("default", "blank", "verified"),
    [("2", True, True), ("1", True, False), ("2", False, False), (None, False, False)],
)
def test_a_policy_is_verified_only_with_a_new_default_that_allows_nothing(
    default: str | None, blank: bool, verified: bool
) -> None:
    iot = FakeIot({})
    iot.default_version, iot.blank = default, blank
    store = FakeStore([record(("stack-Blank",), {"policy": {"name": "p", "defaultVersionId": "1"}})])
    page = verify(iot, store, {"DEVICE_CERTIFICATE_SHARED_CHECK": {"total": 1, "succeeded": 1}})
    assert (page.totals.verified, page.totals.not_verified) == ((1, 0) if verified else (0, 1))


def test_iot_status_is_read_per_finding_only_when_the_check_did_not_all_succeed() -> None:
    iot = FakeIot({})
    iot.status = "INACTIVE"
    store = FakeStore([record(("stack-Deactivate",))])

    verify(iot, store, {"DEVICE_CERTIFICATE_SHARED_CHECK": CheckCounts(total=1, succeeded=1).model_dump()})
    assert iot.calls == []
    verify(iot, store, {"DEVICE_CERTIFICATE_SHARED_CHECK": {"total": 2, "succeeded": 1, "failed": 1}})
    assert iot.calls == ["f1"]
    assert store.results["f1"] == ("verified", [], "FAILED")
