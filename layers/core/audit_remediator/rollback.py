"""Rollback: puts back what a mitigation task changed, from the pre-state records (`resource_state`).

Each recorded field is compared with what the service set before anything is written:
- the resource is as it was before: nothing to do (`already-restored`);
- it is as the action left it: restored (`restored`);
- anything else means someone changed it since (drift): the whole record is refused (`refused-drifted`)
  unless forced, when every field is put back to its recorded state (`forced`).

What the action left, per field: a certificate INACTIVE; each thing in its recorded groups plus the
action's groups (ADD_THINGS_TO_THING_GROUP only adds; with overrideDynamicGroups it may displace a
dynamic group, whose membership IoT keeps from the group's query, so a missing recorded group is noted and
never added back by hand); the policy's default version the blank one the action created, as the verification
observed it (without that observation the field counts as changed: only --force sets the previous
version back, and no version is deleted). Logging options cannot be put back by the
service: restoring the recorded role means passing it (iam:PassRole), which no runtime role of the
stack holds; the record is reported `manual` with the exact command.

The record is all or nothing: a drifted field refuses the whole record, so a device is never half
restored. Rolling back one thing plans only that thing's groups of a record that names several (a shared
certificate's finding), beside the certificate they share. No boto3 here; IoT failures are RollbackIotError and leave the record for the next run.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from audit_remediator.checks import ActionType
from audit_remediator.errors import RemediatorError, ResourceStateError
from audit_remediator.models.rollback import Outcome, RolledBackItem
from audit_remediator.resource_state import ActionCatalog, IotStateReads

INACTIVE = "INACTIVE"
# An item's lines: a hundred items stay well inside an SNS message (256 KB) and a Lambda payload (6 MB).
MAX_DETAILS, MAX_DETAIL = 5, 200


class RollbackIotError(Exception):
    """An IoT write of the rollback failed; the record is reported failed with nothing written onto it,
    and a second run starts from the state it then finds (part restored fields read as restored)."""


@dataclass(frozen=True, slots=True)
class RollbackRecord:
    finding_id: str
    task_id: str
    check: str
    action_names: tuple[str, ...]
    before: Mapping[str, Any]
    observed: Mapping[str, Any] | None
    rollback_result: str | None


class RestoreIot(IotStateReads, Protocol):
    """The pre-state reads (a resource that no longer exists reads as None) and the writes that restore."""

    def thing_certificates(self, thing_name: str) -> frozenset[str]:
        """The ids of the certificates attached to the thing (none when it no longer exists)."""
        ...

    def set_certificate_status(self, certificate_id: str, status: str) -> None: ...

    def set_ca_certificate_status(self, certificate_id: str, status: str) -> None: ...

    def add_thing_to_group(self, thing_name: str, group: str) -> None: ...

    def remove_thing_from_group(self, thing_name: str, group: str) -> None: ...

    def set_default_policy_version(self, policy_name: str, version_id: str) -> None: ...

    def delete_policy_version(self, policy_name: str, version_id: str) -> None: ...


State = Literal["before", "as-set", "drifted"]


Step = tuple[str, tuple[str, ...]]


@dataclass
class FieldPlan:
    """One recorded field: what it is now, and the writes that put it back."""

    state: State
    observed: Any
    describe: str
    steps: Sequence[Step] = ()
    forced_steps: Sequence[Step] = ()


def _certificate(kind: str, before: Mapping[str, Any], status: str | None, setter: str) -> FieldPlan:
    certificate, previous = str(before["id"]), before.get("status")
    observed = {"id": certificate, "status": status}
    restore = [(setter, (certificate, str(previous)))]
    if status is None:
        return FieldPlan("drifted", observed, f"{kind} {certificate} no longer exists")
    if status == previous:
        return FieldPlan("before", observed, f"{kind} {certificate} is {status} as before")
    if status == INACTIVE:
        return FieldPlan("as-set", observed, f"{kind} {certificate} INACTIVE -> {previous}", steps=restore)
    return FieldPlan(
        "drifted",
        observed,
        f"{kind} {certificate} is {status}, not INACTIVE as the action left it",
        forced_steps=restore,
    )


def _thing(thing: str, before: Sequence[str], added: frozenset[str], now: Sequence[str]) -> FieldPlan:
    recorded, current = set(before), set(now)
    observed = sorted(current)
    if current == recorded:
        return FieldPlan("before", observed, f"thing {thing} is in its recorded groups")
    extra = sorted(added - recorded)
    missing = sorted(recorded - current)
    if added <= current and current - added <= recorded:
        note = f"thing {thing} out of {', '.join(extra)}"
        if missing:
            # overrideDynamicGroups displaces only dynamic groups (API reference, AddThingToThingGroup); IoT
            # sets their membership from the group's query, and AddThingToThingGroup cannot.
            note += f"; not in {', '.join(missing)} (a dynamic group's query puts it back)"
        steps = [("remove_thing_from_group", (thing, group)) for group in extra]
        return FieldPlan("as-set", observed, note, steps=steps)
    forced = [("remove_thing_from_group", (thing, group)) for group in sorted(current - recorded)]
    forced += [("add_thing_to_group", (thing, group)) for group in missing]
    return FieldPlan(
        "drifted",
        observed,
        f"thing {thing} is in {', '.join(observed) or 'no group'}: not its recorded groups plus "
        f"{', '.join(sorted(added))}",
        forced_steps=forced,
    )


def _policy(
    before: Mapping[str, Any], observed_after: Mapping[str, Any] | None, iot: RestoreIot
) -> FieldPlan:
    policy, previous = str(before["name"]), before.get("defaultVersionId")
    default = iot.policy_default_version(policy)
    observed = {"name": policy, "defaultVersionId": default}
    if default is None:
        return FieldPlan("drifted", observed, f"policy {policy} no longer exists")
    if previous is None or default == previous:
        return FieldPlan("before", observed, f"policy {policy}'s default version is {default} as before")
    # The blank version is the one the verification saw as default: a version nobody observed the action
    # create is never deleted, and the field is refused as changed unless forced.
    blank = (observed_after or {}).get("defaultVersionId")
    restore = [("set_default_policy_version", (policy, str(previous)))]
    if blank is not None and default == blank:
        # The default version is switched back first: IoT refuses to delete a policy's default version.
        return FieldPlan(
            "as-set",
            observed,
            f"policy {policy} default version {default} -> {previous}, blank version {default} deleted",
            steps=[*restore, ("delete_policy_version", (policy, default))],
        )
    return FieldPlan(
        "drifted",
        observed,
        f"policy {policy}'s default version is {default}, not the blank version the action created"
        + ("" if blank else " (no verification observed it)"),
        forced_steps=restore,
    )


def logging_command(before: Mapping[str, Any]) -> str:
    if before.get("configured") is False or (
        before.get("disableAllLogs") is True and "roleArn" not in before
    ):
        return "aws iot set-v2-logging-options --disable-all-logs (logging was not configured before)"
    parts = ["aws iot set-v2-logging-options"]
    if "roleArn" in before:
        parts.append(f"--role-arn {before['roleArn']}")
    if "defaultLogLevel" in before:
        parts.append(f"--default-log-level {before['defaultLogLevel']}")
    parts.append("--disable-all-logs" if before.get("disableAllLogs") else "--no-disable-all-logs")
    return " ".join(parts)


def plan_record(
    record: RollbackRecord, catalog: ActionCatalog, iot: RestoreIot, only_thing: str | None = None
) -> dict[str, FieldPlan]:
    """`only_thing`: of the things the record names, plan that one alone (a shared certificate's finding
    names every thing holding it; rolling one device back leaves the others where the action put them)."""
    before = record.before
    plans: dict[str, FieldPlan] = {}
    if "certificate" in before and before["certificate"].get("status") is not None:
        certificate = before["certificate"]
        status = iot.certificate_status(str(certificate["id"]))
        plans["certificate"] = _certificate("certificate", certificate, status, "set_certificate_status")
    if "caCertificate" in before and before["caCertificate"].get("status") is not None:
        ca = before["caCertificate"]
        status = iot.ca_certificate_status(str(ca["id"]))
        plans["caCertificate"] = _certificate("CA certificate", ca, status, "set_ca_certificate_status")
    if before.get("things"):
        added = frozenset(
            group
            for name in record.action_names
            if catalog.action_type(name) is ActionType.ADD_THINGS_TO_THING_GROUP
            for group in catalog.params(name)["addThingsToThingGroupParams"]["thingGroupNames"]
        )
        for thing, groups in sorted(before["things"].items()):
            if only_thing is not None and thing != only_thing:
                continue
            plans[f"things.{thing}"] = _thing(thing, groups, added, iot.thing_groups(thing))
    if "policy" in before:
        plans["policy"] = _policy(before["policy"], (record.observed or {}).get("policy"), iot)
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

    if "logging" in record.before:
        return RecordOutcome(
            item("manual", [f"restore logging by hand: {logging_command(record.before['logging'])}"]), None
        )
    try:
        plans = plan_record(record, catalog, iot, only_thing)
    except (RollbackIotError, ResourceStateError) as error:
        return RecordOutcome(item("failed", [str(error)]), None)
    observed = {name: plan.observed for name, plan in plans.items()}
    drifted = [plan for plan in plans.values() if plan.state == "drifted"]
    changing = [plan for plan in plans.values() if plan.state == "as-set"]
    details = [plan.describe for plan in plans.values() if plan.state != "before"]
    if drifted and not force:
        return RecordOutcome(item("refused-drifted", details), observed)
    if not drifted and not changing:
        return RecordOutcome(item("already-restored", [p.describe for p in plans.values()]), observed)
    if dry_run:
        return RecordOutcome(item("would-restore", details), None)
    try:
        for plan in changing:
            _run(plan.steps, iot)
        for plan in drifted:
            _run(plan.forced_steps, iot)
    except (RollbackIotError, ResourceStateError) as error:
        return RecordOutcome(item("failed", [*details, str(error)]), None)
    return RecordOutcome(item("forced" if drifted else "restored", details), observed)


def observed_json(observed: Mapping[str, Any]) -> str:
    return json.dumps(observed, sort_keys=True)


class RollbackRequestError(RemediatorError):
    """A rollback request the function cannot honour (no scope, or a malformed id); nothing was read."""
