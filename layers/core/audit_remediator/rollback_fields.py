"""Rollback's plan for one recorded field: what it is now (as before, as the action left it, changed since,
or not for the service to restore) and the writes that put it back. `rollback` applies the plans of a
record all or nothing; `rollback_logging` plans the account's logging options.

What the action left, per field: a certificate INACTIVE; each thing in its recorded static groups plus the
action's groups; the policy's default version the blank one the action created, as the verification
observed it. Dynamic thing groups are left out of every comparison and never written: IoT keeps their
members from the group's query (developer guide, "Dynamic thing groups"), and AddThingToThingGroup with
overrideDynamicGroups may displace one (API reference, AddThingToThingGroup).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from audit_remediator.resource_state import IotStateReads

INACTIVE = "INACTIVE"
# UpdateCertificate: setting PENDING_TRANSFER or PENDING_ACTIVATION "will result in an exception", and
# REGISTER_INACTIVE is deprecated (API reference), so no call puts such a status back.
UNSETTABLE_STATUSES = frozenset({"PENDING_TRANSFER", "PENDING_ACTIVATION", "REGISTER_INACTIVE"})


class RollbackIotError(Exception):
    """An IoT write of the rollback failed; the record is reported failed with nothing written onto it,
    and a second run starts from the state it then finds (part restored fields read as restored)."""


class RestoreIot(IotStateReads, Protocol):
    """The pre-state reads (a resource that no longer exists reads as None) and the writes that restore."""

    def thing_certificates(self, thing_name: str) -> frozenset[str]:
        """The ids of the certificates attached to the thing (none when it no longer exists)."""
        ...

    def thing_exists(self, thing_name: str) -> bool: ...

    def dynamic_group(self, group: str) -> bool:
        """Whether the thing group is dynamic (its members come from a query)."""
        ...

    def set_certificate_status(self, certificate_id: str, status: str) -> None: ...

    def set_ca_certificate_status(self, certificate_id: str, status: str) -> None: ...

    def add_thing_to_group(self, thing_name: str, group: str) -> None: ...

    def remove_thing_from_group(self, thing_name: str, group: str) -> None: ...

    def set_default_policy_version(self, policy_name: str, version_id: str) -> None: ...

    def delete_policy_version(self, policy_name: str, version_id: str) -> None: ...

    def set_logging_options(self, default_log_level: str, disable_all_logs: bool) -> None:
        """SetV2LoggingOptions with the level and disableAllLogs, naming no role."""
        ...


# `manual`: the service cannot put the field back itself (FieldPlan.by_hand says how, where a call can);
# `shared`: restoring it would reach other devices too (a certificate other things hold), so only --force.
State = Literal["before", "as-set", "drifted", "manual", "shared"]


Step = tuple[str, tuple[Any, ...]]


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


def certificate_plan(kind: str, before: Mapping[str, Any], status: str | None, setter: str) -> FieldPlan:
    certificate, previous = str(before["id"]), before.get("status")
    observed = {"id": certificate, "status": status}
    restore = [(setter, (certificate, str(previous)))]
    if status is None:
        return FieldPlan("drifted", observed, f"{kind} {certificate} no longer exists")
    if status == previous:
        return FieldPlan("before", observed, f"{kind} {certificate} is {status} as before")
    if previous in UNSETTABLE_STATUSES:
        return FieldPlan(
            "manual", observed, f"{kind} {certificate} was {previous}: IoT lets no call set that status again"
        )
    if status == INACTIVE:
        return FieldPlan("as-set", observed, f"{kind} {certificate} INACTIVE -> {previous}", steps=restore)
    return FieldPlan(
        "drifted",
        observed,
        f"{kind} {certificate} is {status}, not INACTIVE as the action left it",
        forced_steps=restore,
    )


def thing_plan(thing: str, before: Sequence[str], added: frozenset[str], iot: RestoreIot) -> FieldPlan:
    if not iot.thing_exists(thing):
        return FieldPlan("drifted", None, f"thing {thing} no longer exists")
    now = iot.thing_groups(thing)
    dynamic = {group for group in {*before, *now} if group not in added and iot.dynamic_group(group)}
    recorded, current = set(before) - dynamic, set(now) - dynamic
    observed = sorted(now)
    left = f"; dynamic {', '.join(sorted(dynamic))} left to their queries" if dynamic else ""
    if current == recorded:
        return FieldPlan("before", observed, f"thing {thing} is in its recorded groups{left}")
    if added <= current and current == recorded | added:
        extra = sorted(added - recorded)
        steps = [("remove_thing_from_group", (thing, group)) for group in extra]
        return FieldPlan("as-set", observed, f"thing {thing} out of {', '.join(extra)}{left}", steps=steps)
    forced = [("remove_thing_from_group", (thing, group)) for group in sorted(current - recorded)]
    forced += [("add_thing_to_group", (thing, group)) for group in sorted(recorded - current)]
    return FieldPlan(
        "drifted",
        observed,
        f"thing {thing} is in {', '.join(sorted(current)) or 'no static group'}: not its recorded groups plus "
        f"{', '.join(sorted(added))}{left}",
        forced_steps=forced,
    )


def policy_plan(
    before: Mapping[str, Any], observed_after: Mapping[str, Any] | None, iot: RestoreIot
) -> FieldPlan:
    policy, previous = str(before["name"]), before.get("defaultVersionId")
    default = iot.policy_default_version(policy)
    observed = {"name": policy, "defaultVersionId": default}
    if default is None:
        return FieldPlan("drifted", observed, f"policy {policy} no longer exists")
    # The blank version is the one the verification saw as the default allowing nothing: a version nobody saw
    # the action create is never deleted, and the field is refused as changed unless forced.
    seen = observed_after or {}
    blank = seen.get("defaultVersionId") if seen.get("defaultGrantsNothing") is True else None
    if previous is None or default == previous:
        # A version's document never changes, so the blank one still existing is still blank: one that an
        # earlier rollback failed to delete is deleted now, or it would hold one of the policy's five versions.
        if blank is not None and blank != default and iot.policy_grants_nothing(policy, str(blank)):
            return FieldPlan(
                "as-set",
                observed,
                f"policy {policy}'s blank version {blank} deleted (default {default} as before)",
                steps=[("delete_policy_version", (policy, str(blank)))],
            )
        return FieldPlan("before", observed, f"policy {policy}'s default version is {default} as before")
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
        + ("" if blank else " (no verification saw a blank default)"),
        forced_steps=restore,
    )
