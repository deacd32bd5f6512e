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
version back, and no version is deleted); account logging turned off again when it was off before (the
state LOGGING_DISABLED_CHECK reported). Turning logging off names no role, so it needs no iam:PassRole,
which no runtime role of the stack holds; what needs a role is left to the operator with the exact
command (`manual`): logging that was on before, and the name of a role the logging options held while
off. What IoT does with a request that names no role is not documented, so the options are read back
after the write and the record is `restored` only when logging is off again.

The record is all or nothing: a drifted field refuses the whole record, so a device is never half
restored. Rolling back one thing plans only that thing's groups of a record that names several (a shared
certificate's finding), beside the certificate they share. No boto3 here; IoT failures are RollbackIotError and leave the record for the next run.
"""

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from audit_remediator.checks import ActionType
from audit_remediator.errors import RemediatorError, ResourceStateError
from audit_remediator.models.rollback import Outcome, RolledBackItem
from audit_remediator.resource_state import ActionCatalog, IotStateReads

INACTIVE = "INACTIVE"
# An item's lines (long enough for a command that names a role): a hundred items stay inside an SNS
# message (256 KB) and a Lambda payload (6 MB).
MAX_DETAILS, MAX_DETAIL = 5, 320


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

    def set_logging_off(self, default_log_level: str) -> None:
        """SetV2LoggingOptions with disableAllLogs and the level, naming no role."""
        ...


# `manual`: the service cannot put the field back itself; FieldPlan.by_hand says how.
State = Literal["before", "as-set", "drifted", "manual"]


Step = tuple[str, tuple[str, ...]]


@dataclass
class FieldPlan:
    """One recorded field: what it is now, and the writes that put it back."""

    state: State
    observed: Any
    describe: str
    steps: Sequence[Step] = ()
    forced_steps: Sequence[Step] = ()
    # Read back after the writes: whether the field is as recorded, and lines for the operator.
    confirm: Callable[[RestoreIot], tuple[bool, list[str]]] | None = None
    # The command that restores the field by hand, listed when the service cannot or its write failed.
    by_hand: str | None = None


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


LOGGING_OFF_LEVEL = "DISABLED"


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


def _logging_off(options: Mapping[str, Any]) -> bool:
    """Off as LOGGING_DISABLED_CHECK sees it: never configured, every log disabled, or level DISABLED."""
    return (
        options.get("configured") is False
        or options.get("disableAllLogs") is True
        or options.get("defaultLogLevel") == LOGGING_OFF_LEVEL
    )


def _describe_logging(options: Mapping[str, Any]) -> str:
    if options.get("configured") is False:
        return "not configured"
    state = "off" if _logging_off(options) else f"on at {options.get('defaultLogLevel')}"
    return f"{state}, role {options.get('roleArn') or 'none'}"


def _logging_roles_lines(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    if before.get("configured") is False or now.get("roleArn") == before.get("roleArn"):
        return []
    return [
        f"the logging options name role {now.get('roleArn') or 'none'}, not {before.get('roleArn')} as "
        "before (unused while logging is off); naming that role again needs iam:PassRole",
        f"by hand: {logging_command(before)}",
    ]


def _logging(before: Mapping[str, Any], params: Mapping[str, Any], iot: RestoreIot) -> FieldPlan:
    now = iot.logging_options()
    level, role = params["logLevel"], params["roleArnForLogging"]
    by_hand = logging_command(before)
    if not _logging_off(before):
        if all(now.get(key) == before.get(key) for key in ("roleArn", "defaultLogLevel", "disableAllLogs")):
            return FieldPlan("before", now, f"account logging is {_describe_logging(now)} as before")
        return FieldPlan(
            "manual",
            now,
            f"account logging was {_describe_logging(before)} before: setting that role again needs "
            "iam:PassRole, which no runtime role of the stack holds",
            by_hand=by_hand,
        )
    if _logging_off(now):
        return FieldPlan("before", now, f"account logging is {_describe_logging(now)}: off as before")

    def confirm(reader: RestoreIot) -> tuple[bool, list[str]]:
        after = reader.logging_options()
        if not _logging_off(after):
            return False, [f"account logging is still {_describe_logging(after)} after turning it off"]
        return True, _logging_roles_lines(before, after)

    restore = [("set_logging_off", (str(before.get("defaultLogLevel", LOGGING_OFF_LEVEL)),))]
    if now.get("roleArn") == role and now.get("defaultLogLevel") == level and not now.get("disableAllLogs"):
        return FieldPlan(
            "as-set",
            now,
            f"account logging {level} -> off ({_describe_logging(before)} before)",
            steps=restore,
            confirm=confirm,
            by_hand=by_hand,
        )
    return FieldPlan(
        "drifted",
        now,
        f"account logging is {_describe_logging(now)}, not on at {level} with role {role} as the action left it",
        forced_steps=restore,
        confirm=confirm,
        by_hand=by_hand,
    )


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
    if "logging" in before:
        [params] = [
            catalog.params(name)["enableIoTLoggingParams"]
            for name in record.action_names
            if catalog.action_type(name) is ActionType.ENABLE_IOT_LOGGING
        ]
        plans["logging"] = _logging(before["logging"], params, iot)
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
    changing = [plan for plan in plans.values() if plan.state == "as-set"]
    details = [plan.describe for plan in plans.values() if plan.state != "before"]
    by_hand = [f"by hand: {plan.by_hand}" for plan in plans.values() if plan.by_hand]
    if any(plan.state == "manual" for plan in plans.values()):
        return RecordOutcome(item("manual", [*details, *by_hand]), None)
    if drifted and not force:
        return RecordOutcome(item("refused-drifted", details), observed)
    if not drifted and not changing:
        return RecordOutcome(item("already-restored", [p.describe for p in plans.values()]), observed)
    if dry_run:
        return RecordOutcome(item("would-restore", details), None)
    confirmed = True
    try:
        for plan in changing:
            _run(plan.steps, iot)
        for plan in drifted:
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
    return RecordOutcome(item("forced" if drifted else "restored", details), observed)


def observed_json(observed: Mapping[str, Any]) -> str:
    return json.dumps(observed, sort_keys=True)


class RollbackRequestError(RemediatorError):
    """A rollback request the function cannot honour (no scope, or a malformed id); nothing was read."""
