"""Recording pre-state: before a task starts, one page of its findings at a time, the state its actions
will change is read from IoT and written to RemediationTable (record shape: `resource_state`). No boto3
here; any error reading or writing is a ResourceStateError, and the workflow then starts nothing.

A whole-audit target is paged with ListAuditFindings (check by check, at most PAGE_SIZE findings per
invocation, IoT's nextToken carried in the cursor); a findingIds target (at most 25) is one page.
"""

from collections.abc import Mapping
from typing import Any

from audit_remediator.checks import ActionType
from audit_remediator.errors import ResourceStateError
from audit_remediator.impact import AuditFindingView
from audit_remediator.models.plan import AuditFilterTarget, MitigationTaskSpec
from audit_remediator.models.resource_state import PAGE_SIZE, FindingsCursor, PreStatePage, PreStateRequest
from audit_remediator.resource_state import (
    MAX_THINGS_RECORDED,
    STATE_CHANGING,
    ActionCatalog,
    IotStateReads,
    StateStore,
)


def _member(finding: AuditFindingView, member: str) -> Any:
    value = finding.resource_identifier.get(member)
    if value is None:
        raise ResourceStateError(
            f"finding {finding.finding_id} ({finding.check}) names no {member}: "
            "its action's pre-state cannot be read"
        )
    return value


def snapshot(finding: AuditFindingView, types: frozenset[ActionType], iot: IotStateReads) -> dict[str, Any]:
    """The fields the actions of `types` will change on the finding's resource, as they are now."""
    before: dict[str, Any] = {}
    if ActionType.UPDATE_DEVICE_CERTIFICATE in types:
        certificate = str(_member(finding, "deviceCertificateId"))
        before["certificate"] = {"id": certificate, "status": iot.certificate_status(certificate)}
    if ActionType.UPDATE_CA_CERTIFICATE in types:
        ca = str(_member(finding, "caCertificateId"))
        before["caCertificate"] = {"id": ca, "status": iot.ca_certificate_status(ca)}
    if (
        ActionType.ADD_THINGS_TO_THING_GROUP in types
        and "deviceCertificateId" not in finding.resource_identifier
    ):
        # The intermediate-CA check names its device certificates only as related resources; which things
        # IoT moves for it is not documented, so nothing is claimed and verification says so.
        before["unrecorded"] = (
            f"a {finding.resource_type} finding names no device certificate: no things recorded"
        )
    elif ActionType.ADD_THINGS_TO_THING_GROUP in types:
        certificate = str(_member(finding, "deviceCertificateId"))
        links = iot.certificate_things(certificate, MAX_THINGS_RECORDED + 1)
        if len(links) > MAX_THINGS_RECORDED:
            raise ResourceStateError(
                f"certificate {certificate} of finding {finding.finding_id} reaches more than "
                f"{MAX_THINGS_RECORDED} things: their groups cannot be recorded in one record"
            )
        before["certificateId"] = certificate
        before["things"] = {link.thing_name: sorted(iot.thing_groups(link.thing_name)) for link in links}
    if ActionType.REPLACE_DEFAULT_POLICY_VERSION in types:
        policy = str(_member(finding, "policyVersionIdentifier")["policyName"])
        before["policy"] = {"name": policy, "defaultVersionId": iot.policy_default_version(policy)}
    if ActionType.ENABLE_IOT_LOGGING in types:
        before["logging"] = iot.logging_options()
    return before


def task_findings_page(
    audit_task_id: str, task: MitigationTaskSpec, cursor: FindingsCursor | None, iot: IotStateReads
) -> tuple[list[AuditFindingView], FindingsCursor | None]:
    """One page of the findings a task targets, and where the next page starts (None: done)."""
    target = task.target
    if not isinstance(target, AuditFilterTarget):
        known = (iot.finding(finding_id) for finding_id in target.finding_ids)
        return [finding for finding in known if finding is not None], None
    checks = sorted(target.audit_check_to_reason_code_filter)
    check = cursor.check if cursor else checks[0]
    if check not in checks:
        raise ResourceStateError(f"the cursor names check {check}, which task {task.task_id} lacks")
    token = cursor.next_token if cursor else None
    findings, next_token = iot.findings_page(audit_task_id, check, token, PAGE_SIZE)
    reasons = target.audit_check_to_reason_code_filter[check]
    kept = [f for f in findings if f.check == check and f.reason_code in reasons]
    if next_token:
        return kept, FindingsCursor(check=check, next_token=next_token)
    later = checks[checks.index(check) + 1 :]
    return kept, (FindingsCursor(check=later[0]) if later else None)


def record_page(request: PreStateRequest, iot: IotStateReads, store: StateStore) -> PreStatePage:
    """Records one page of the task's findings and returns where the next page starts (None: done)."""
    catalog = ActionCatalog(iot)
    task: MitigationTaskSpec = request.task
    mapping: Mapping[str, list[str]] = task.audit_check_to_actions_mapping
    if not any(catalog.types(names) & STATE_CHANGING for names in mapping.values()):
        return PreStatePage(recorded=request.recorded, cursor=None)
    findings, next_cursor = task_findings_page(request.audit_task_id, task, request.cursor, iot)
    recorded = request.recorded
    for finding in findings:
        names = mapping.get(finding.check)
        types = catalog.types(names) & STATE_CHANGING if names else frozenset()
        if not names or not types:
            continue
        before = snapshot(finding, types, iot)
        store.put_first(
            request.audit_task_id, task.task_id, finding, names, sorted(types), before, request.expires_at
        )
        recorded += 1
    return PreStatePage(recorded=recorded, cursor=next_cursor)
