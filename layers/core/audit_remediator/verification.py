"""Verification: after a task ends, each recorded finding's resource is read again and compared with the
state its actions should have produced, including what makes that state effective. One page of the
task's pre-state records per invocation; the result goes back onto each record and into running totals.

Expected state, per action type (parameters read from the mitigation action itself):
- UPDATE_DEVICE_CERTIFICATE / UPDATE_CA_CERTIFICATE: the certificate INACTIVE;
- ADD_THINGS_TO_THING_GROUP: every thing of the certificate in each of the action's groups, the stack's
  deny-all policy attached to each of those groups, and the devices contained: IoT applies a thing
  group's policy to a connection only through the thing's association (exclusive, or a client id equal to
  the thing name: IoT guide, thing-groups and exclusive-thing), so containment is shown only when the
  certificate is no longer ACTIVE or every thing holds it exclusively; otherwise "not contained";
- REPLACE_DEFAULT_POLICY_VERSION: a new default version that grants nothing (no Allow statement);
- ENABLE_IOT_LOGGING: logging enabled at the action's level with the action's role.
A finding whose resource does not match is `not-verified`, whatever IoT counted for it.
"""

from collections.abc import Mapping
from typing import Any

from audit_remediator.checks import ActionType
from audit_remediator.models.resource_state import (
    MAX_NOT_VERIFIED_LISTED,
    PAGE_SIZE,
    NotVerified,
    VerificationPage,
    VerificationRequest,
)
from audit_remediator.quarantine_timers import QuarantineTimers
from audit_remediator.remediation_metrics import VerificationMetrics
from audit_remediator.resource_state import (
    MAX_THINGS_RECORDED,
    ActionCatalog,
    IotStateReads,
    StateRecord,
    StateStore,
)

INACTIVE = "INACTIVE"
# ListAuditMitigationActionsExecutions' statuses (botocore: AuditMitigationActionsExecutionStatus).
DONE = "COMPLETED"


class _Checker:
    def __init__(self, iot: IotStateReads, catalog: ActionCatalog, quarantine_policy: str) -> None:
        self.iot, self.catalog, self.quarantine_policy = iot, catalog, quarantine_policy
        self._group_policies: dict[str, frozenset[str]] = {}

    def policies_of(self, group: str) -> frozenset[str]:
        if group not in self._group_policies:
            self._group_policies[group] = self.iot.group_policies(group)
        return self._group_policies[group]

    def check(self, record: StateRecord) -> tuple[dict[str, Any], list[str]]:
        observed: dict[str, Any] = {}
        reasons: list[str] = []
        identifier = record.resource_identifier
        for name in record.action_names:
            kind = self.catalog.action_type(name)
            params = self.catalog.params(name)
            if kind is ActionType.UPDATE_DEVICE_CERTIFICATE:
                certificate = str(identifier["deviceCertificateId"])
                status = self.iot.certificate_status(certificate)
                observed["certificate"] = {"id": certificate, "status": status}
                if status != INACTIVE:
                    reasons.append(f"certificate {certificate} is {status}, not INACTIVE")
            elif kind is ActionType.UPDATE_CA_CERTIFICATE:
                ca = str(identifier["caCertificateId"])
                status = self.iot.ca_certificate_status(ca)
                observed["caCertificate"] = {"id": ca, "status": status}
                if status != INACTIVE:
                    reasons.append(f"CA certificate {ca} is {status}, not INACTIVE")
            elif kind is ActionType.ADD_THINGS_TO_THING_GROUP and "deviceCertificateId" not in identifier:
                reasons.append("the finding names no device certificate: its things cannot be checked")
            elif kind is ActionType.ADD_THINGS_TO_THING_GROUP:
                groups = list(params["addThingsToThingGroupParams"]["thingGroupNames"])
                self._quarantine(str(identifier["deviceCertificateId"]), groups, observed, reasons)
            elif kind is ActionType.REPLACE_DEFAULT_POLICY_VERSION:
                self._policy(record, observed, reasons)
            elif kind is ActionType.ENABLE_IOT_LOGGING:
                self._logging(params["enableIoTLoggingParams"], observed, reasons)
        return observed, reasons

    def _quarantine(
        self, certificate: str, groups: list[str], observed: dict[str, Any], reasons: list[str]
    ) -> None:
        links = self.iot.certificate_things(certificate, MAX_THINGS_RECORDED)
        things = {link.thing_name: sorted(self.iot.thing_groups(link.thing_name)) for link in links}
        observed["certificateId"] = certificate
        observed["things"] = things
        for thing, member_of in sorted(things.items()):
            missing = [group for group in groups if group not in member_of]
            if missing:
                reasons.append(f"thing {thing} is not in thing group {', '.join(missing)}")
        for group in groups:
            if self.quarantine_policy not in self.policies_of(group):
                reasons.append(
                    f"thing group {group} does not have the deny-all policy {self.quarantine_policy} attached"
                )
        status = observed.get("certificate", {}).get("status") or self.iot.certificate_status(certificate)
        shared = [link.thing_name for link in links if link.association != "EXCLUSIVE_THING"]
        observed["containment"] = {"certificateStatus": status, "nonExclusiveThings": sorted(shared)}
        if status == "ACTIVE" and shared:
            reasons.append(
                f"not contained: certificate {certificate} is ACTIVE and held non-exclusively by "
                f"{', '.join(sorted(shared)[:5])}; IoT applies a thing group's policy to such a connection "
                "only when its client id is the thing name, so a device using another client id is not cut off"
            )

    def _policy(self, record: StateRecord, observed: dict[str, Any], reasons: list[str]) -> None:
        policy = str(record.resource_identifier["policyVersionIdentifier"]["policyName"])
        default = self.iot.policy_default_version(policy)
        before = record.before.get("policy", {}).get("defaultVersionId")
        blank = default is not None and self.iot.policy_grants_nothing(policy, default)
        observed["policy"] = {"name": policy, "defaultVersionId": default, "defaultGrantsNothing": blank}
        if default is None or default == before:
            reasons.append(f"policy {policy}'s default version is still {default}")
        elif not blank:
            reasons.append(f"policy {policy}'s default version {default} still allows actions")

    def _logging(self, params: Mapping[str, Any], observed: dict[str, Any], reasons: list[str]) -> None:
        options = self.iot.logging_options()
        observed["logging"] = options
        level, role = params["logLevel"], params["roleArnForLogging"]
        if options.get("disableAllLogs") is not False or options.get("defaultLogLevel") != level:
            reasons.append(
                f"logging is {options.get('defaultLogLevel')} (disableAllLogs "
                f"{options.get('disableAllLogs')}), not {level}"
            )
        elif options.get("roleArn") != role:
            reasons.append(f"logging uses role {options.get('roleArn')}, not {role}")


def _iot_status(request: VerificationRequest, record: StateRecord, iot: IotStateReads) -> str:
    """SUCCEEDED when the task's statistics show every finding of the check succeeded (no call);
    otherwise the finding's own executions say."""
    counts = request.statistics.get(record.check)
    if counts is not None and counts.all_succeeded:
        return "SUCCEEDED"
    statuses = iot.finding_action_statuses(request.task_id, record.finding_id)
    if not statuses:
        return "NOT_RUN"
    if all(status == DONE for status in statuses):
        return "SUCCEEDED"
    return next(status for status in statuses if status != DONE)


def verify_page(
    request: VerificationRequest,
    iot: IotStateReads,
    store: StateStore,
    quarantine_policy: str,
    timers: QuarantineTimers | None = None,
    metrics: VerificationMetrics | None = None,
) -> VerificationPage:
    catalog = ActionCatalog(iot)
    checker = _Checker(iot, catalog, quarantine_policy)
    records, cursor = store.page(request.audit_task_id, request.task_id, request.cursor, PAGE_SIZE)
    totals = request.totals
    listed = list(totals.not_verified_findings)
    checked, verified, not_verified, succeeded_not, recurring, unknown = (
        totals.checked,
        totals.verified,
        totals.not_verified,
        totals.succeeded_not_verified,
        totals.recurring,
        totals.recurrence_unknown,
    )
    for record in records:
        observed, reasons = checker.check(record)
        status = _iot_status(request, record, iot)
        result = "not-verified" if reasons else "verified"
        store.put_verification(
            request.audit_task_id, request.task_id, record.finding_id, result, observed, reasons[:50], status
        )
        if timers is not None:
            timers.after_verification(request.audit_task_id, request.task_id, record, observed)
        if metrics is not None:
            recurs = metrics.checked(request.audit_task_id, record, result)
            recurring += recurs is True
            unknown += recurs is None
        checked += 1
        if not reasons:
            verified += 1
            continue
        not_verified += 1
        succeeded_not += status == "SUCCEEDED"
        if len(listed) < MAX_NOT_VERIFIED_LISTED:
            listed.append(
                NotVerified(
                    finding_id=record.finding_id,
                    check=record.check,
                    iot_status=status,
                    reasons=[reason[:300] for reason in reasons[:3]],
                )
            )
    if metrics is not None:
        metrics.flush()
    return VerificationPage(
        totals=totals.model_copy(
            update={
                "checked": checked,
                "verified": verified,
                "not_verified": not_verified,
                "succeeded_not_verified": succeeded_not,
                "recurring": recurring,
                "recurrence_unknown": unknown,
                "not_verified_findings": listed,
            }
        ),
        cursor=cursor,
    )
