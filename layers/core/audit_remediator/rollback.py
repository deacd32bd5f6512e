"""Rollback: puts back what a mitigation task changed, from the pre-state records (`resource_state`).

Each recorded field is compared with what the service set before anything is written (`rollback_fields`,
`rollback_logging`):
- the resource is as it was before: nothing to do (`already-restored`);
- it is as the action left it: restored (`restored`);
- anything else means someone changed it since (drift): the whole record is refused (`refused-drifted`)
  unless forced, when every field is put back to its recorded state (`forced`);
- a field the service cannot put back (a role to pass, a status IoT refuses, things never recorded) makes
  the record `manual`, with what to do by hand.

The record is all or nothing: a drifted field refuses the whole record, so a device is never half
restored. Rolling back one thing plans only that thing's groups of a record that names several (a shared
certificate's finding), beside the certificate: reactivating a certificate other things still hold lets
them connect too, so that is refused (`refused-shared`) unless forced. No boto3 here; IoT failures are
RollbackIotError and leave the record for the next run.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from audit_remediator.checks import ActionType
from audit_remediator.errors import RemediatorError, ResourceStateError
from audit_remediator.models.rollback import Outcome, RolledBackItem
from audit_remediator.resource_state import MAX_THINGS_RECORDED, ActionCatalog
from audit_remediator.rollback_fields import (
    FieldPlan,
    RestoreIot,
    RollbackIotError,
    Step,
    certificate_plan,
    policy_plan,
    thing_plan,
)
from audit_remediator.rollback_logging import logging_plan

# An item's lines (long enough for a command that names a role): a hundred items stay inside an SNS
# message (256 KB) and a Lambda payload (6 MB).
MAX_DETAILS, MAX_DETAIL = 5, 320


@dataclass(frozen=True, slots=True)
class RollbackRecord:
    finding_id: str
    task_id: str
    check: str
    action_names: tuple[str, ...]
    before: Mapping[str, Any]
    observed: Mapping[str, Any] | None
    rollback_result: str | None


def _logging_params(record: RollbackRecord, catalog: ActionCatalog) -> Mapping[str, Any] | None:
    return next(
        (
            catalog.params(name)["enableIoTLoggingParams"]
            for name in record.action_names
            if catalog.action_type(name) is ActionType.ENABLE_IOT_LOGGING
        ),
        None,
    )


def _held_by_others(
    plan: FieldPlan, certificate: str, thing: str, record: RollbackRecord, iot: RestoreIot
) -> FieldPlan:
    """Rolling one thing back reactivates its certificate; when other things hold it too, they could connect
    with it again (whatever group they are in), so that waits for --force or the whole finding."""
    others = sorted(
        link.thing_name
        for link in iot.certificate_things(certificate, MAX_THINGS_RECORDED + 1)
        if link.thing_name != thing
    )
    if not others:
        return plan
    return FieldPlan(
        "shared",
        plan.observed,
        f"certificate {certificate} is attached to {', '.join(others[:5])}"
        + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        + f" as well: reactivating it lets them connect too; roll back the whole finding (--finding "
        f"{record.finding_id}) or pass --force",
        forced_steps=[*plan.steps, *plan.forced_steps],
    )


def plan_record(
    record: RollbackRecord, catalog: ActionCatalog, iot: RestoreIot, only_thing: str | None = None
) -> dict[str, FieldPlan]:
    """`only_thing`: of the things the record names, plan that one alone (a shared certificate's finding
    names every thing holding it; rolling one device back leaves the others where the action put them)."""
    before = record.before
    plans: dict[str, FieldPlan] = {}
    if "unrecorded" in before:
        plans["unrecorded"] = FieldPlan(
            "manual", None, f"not recorded before the task, so not restored: {before['unrecorded']}"
        )
    if "certificate" in before and before["certificate"].get("status") is not None:
        certificate = before["certificate"]
        status = iot.certificate_status(str(certificate["id"]))
        plan = certificate_plan("certificate", certificate, status, "set_certificate_status")
        if only_thing is not None and plan.state in ("as-set", "drifted"):
            plan = _held_by_others(plan, str(certificate["id"]), only_thing, record, iot)
        plans["certificate"] = plan
    if "caCertificate" in before and before["caCertificate"].get("status") is not None:
        ca = before["caCertificate"]
        status = iot.ca_certificate_status(str(ca["id"]))
        plans["caCertificate"] = certificate_plan("CA certificate", ca, status, "set_ca_certificate_status")
    if before.get("things"):
        added = frozenset(catalog.added_groups(record.action_names))
        for thing, groups in sorted(before["things"].items()):
            if only_thing is None or thing == only_thing:
                plans[f"things.{thing}"] = thing_plan(thing, groups, added, iot)
    if "policy" in before:
        plans["policy"] = policy_plan(before["policy"], (record.observed or {}).get("policy"), iot)
    if "logging" in before:
        params = _logging_params(record, catalog)
        plans["logging"] = (
            FieldPlan("manual", None, "the record names no logging action to compare with")
            if params is None
            else logging_plan(before["logging"], params, iot)
        )
    return plans


@dataclass(frozen=True)
class RecordOutcome:
    item: RolledBackItem
    # What was found before restoring, by field (the rollbackObserved attribute); None: nothing to record.
    observed: dict[str, Any] | None


def _run(steps: Iterable[Step], iot: RestoreIot) -> None:
    for operation, arguments in steps:
        getattr(iot, operation)(*arguments)


def roll_back_record(
    record: RollbackRecord,
    catalog: ActionCatalog,
    iot: RestoreIot,
    *,
    force: bool,
    dry_run: bool,
    only_thing: str | None = None,
) -> RecordOutcome:
    def item(outcome: Outcome, details: list[str]) -> RolledBackItem:
        return RolledBackItem(
            finding_id=record.finding_id,
            task_id=record.task_id,
            check=record.check,
            outcome=outcome,
            details=[detail[:MAX_DETAIL] for detail in details[:MAX_DETAILS]],
        )

    try:
        plans = plan_record(record, catalog, iot, only_thing)
    except (RollbackIotError, ResourceStateError) as error:
        return RecordOutcome(item("failed", [str(error)]), None)
    observed = {name: plan.observed for name, plan in plans.items()}
    drifted = [plan for plan in plans.values() if plan.state == "drifted"]
    shared = [plan for plan in plans.values() if plan.state == "shared"]
    changing = [plan for plan in plans.values() if plan.state == "as-set"]
    details = [plan.describe for plan in plans.values() if plan.state != "before"]
    by_hand = [f"by hand: {plan.by_hand}" for plan in plans.values() if plan.by_hand]
    if any(plan.state == "manual" for plan in plans.values()):
        return RecordOutcome(item("manual", [*details, *by_hand]), None)
    if drifted and not force:
        return RecordOutcome(item("refused-drifted", details), observed)
    if shared and not force:
        return RecordOutcome(item("refused-shared", details), None)
    if not drifted and not changing and not shared:
        return RecordOutcome(item("already-restored", [p.describe for p in plans.values()]), observed)
    if dry_run:
        return RecordOutcome(item("would-restore", details), None)
    confirmed = True
    try:
        for plan in changing:
            _run(plan.steps, iot)
        for plan in (*drifted, *shared):
            _run(plan.forced_steps, iot)
        for plan in (*changing, *drifted):
            if plan.confirm is not None:
                holds, lines = plan.confirm(iot)
                confirmed &= holds
                details += lines
    except (RollbackIotError, ResourceStateError) as error:
        return RecordOutcome(item("failed", [*details, str(error), *by_hand]), None)
    if not confirmed:
        return RecordOutcome(item("failed", [*details, *by_hand]), None)
    return RecordOutcome(item("forced" if drifted or shared else "restored", details), observed)


def observed_json(observed: Mapping[str, Any]) -> str:
    return json.dumps(observed, sort_keys=True)


class RollbackRequestError(RemediatorError):
    """A rollback request the function cannot honour (no scope, or a malformed id); nothing was read."""
