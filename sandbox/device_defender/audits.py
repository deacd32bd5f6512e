"""Audit tasks and their findings: starting, running the checks, notifying, describing and listing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.action_permissions import audit_source_arn, notification_permissions
from sandbox.device_defender.audit_config import enabled_checks
from sandbox.device_defender.checks import AuditContext, evaluate
from sandbox.device_defender.errors import invalid_request, limit_exceeded, not_found
from sandbox.device_defender.service import Call, Handler, Service, ms, page, timestamp
from sandbox.device_defender.state import AuditTask, CheckResult, Finding, RegionState, resource_key

RELATED_RESOURCES_IN_FINDING: Final = 10
RETENTION: Final = timedelta(days=90)


def start_audit(
    service: Service,
    state: RegionState,
    task_type: str,
    checks: list[str],
    scheduled_name: str | None,
    previous_run: datetime | None,
) -> AuditTask:
    now = service.clock.now()
    task = AuditTask(
        task_id=service.new_id().hex,
        task_type=task_type,
        start=now,
        due=now + timedelta(seconds=service.audit_seconds),
        checks=list(checks),
        scheduled_audit_name=scheduled_name,
        previous_run=previous_run,
        results={name: CheckResult("IN_PROGRESS") for name in checks},
    )
    state.audits[task.task_id] = task
    return task


def _suppressed(state: RegionState, check: str, identifier: dict[str, Any], when: datetime) -> bool:
    suppression = state.suppressions.get((check, resource_key(identifier)))
    return suppression is not None and suppression.active(when)


def complete_audit(service: Service, state: RegionState, region: str, audit: AuditTask) -> None:
    """Runs the audit's checks as of its due time, records their findings and notifies."""
    when = audit.due
    context = AuditContext(
        service.account_id, service.iot(region), state, when, audit.task_type, audit.previous_run
    )
    for check in audit.checks:
        spec = catalog.CHECKS[check]
        outcome = evaluate(check, context)
        result = CheckResult("COMPLETED_COMPLIANT", total=outcome.total)
        for raw in outcome.findings:
            suppressed = _suppressed(state, check, raw.resource_identifier, when)
            finding = Finding(
                finding_id=str(service.new_id()),
                task_id=audit.task_id,
                check_name=check,
                task_start_time=audit.start,
                finding_time=when,
                severity=spec.severity,
                resource_type=raw.resource_type,
                resource_identifier=raw.resource_identifier,
                additional_info=raw.additional_info,
                related_resources=raw.related_resources,
                reason=raw.reason,
                reason_code=raw.reason_code,
                is_suppressed=suppressed,
            )
            state.findings[finding.finding_id] = finding
            if suppressed:
                result.suppressed += 1
            else:
                result.non_compliant += 1
        if result.non_compliant:
            result.status = "COMPLETED_NON_COMPLIANT"
        audit.results[check] = result
    audit.status = "COMPLETED"
    audit.end = when
    _notify(service, state, audit, region)


def audit_notification(account_id: str, audit: AuditTask) -> dict[str, Any]:
    """The audit-completion message Device Defender publishes to the SNS target (reference §5.1)."""
    statuses = [r.status for r in audit.results.values()]
    details = [
        {
            "checkName": name,
            "checkRunStatus": result.status,
            "nonCompliantResourcesCount": result.non_compliant,
            "totalResourcesCount": result.total,
            "suppressedNonCompliantResourcesCount": result.suppressed,
        }
        for name, result in audit.results.items()
    ]
    message: dict[str, Any] = {
        "accountId": account_id,
        "taskId": audit.task_id,
        "taskStatus": audit.status,
        "taskType": audit.task_type,
    }
    if audit.scheduled_audit_name is not None:
        message["scheduledAuditName"] = audit.scheduled_audit_name
    message.update(
        {
            "failedChecksCount": statuses.count("FAILED"),
            "canceledChecksCount": statuses.count("CANCELED"),
            "nonCompliantChecksCount": statuses.count("COMPLETED_NON_COMPLIANT"),
            "compliantChecksCount": statuses.count("COMPLETED_COMPLIANT"),
            "totalChecksCount": len(statuses),
            "taskStartTime": ms(audit.start),
            "auditDetails": details,
        }
    )
    return message


def _notify(service: Service, state: RegionState, audit: AuditTask, region: str) -> None:
    target = state.audit_config.notification_targets.get("SNS")
    if not target or not target.get("enabled") or not target.get("targetArn"):
        return
    if service.authority is not None:
        denial = service.authority.iot_role_denial(
            str(target.get("roleArn", "")),
            audit_source_arn(region, service.account_id),
            notification_permissions(target["targetArn"]),
        )
        if denial is not None:
            # Device Defender does not fail an audit over its notification: the message is lost.
            lost = {"message": json.dumps(audit_notification(service.account_id, audit)), "error": denial[1]}
            service.queue_message("audit-denied", target["targetArn"], json.dumps(lost))
            return
    service.queue_message(
        "audit", target["targetArn"], json.dumps(audit_notification(service.account_id, audit))
    )


def start_on_demand_audit_task(call: Call) -> dict[str, Any]:
    state, service = call.state, call.service
    checks = enabled_checks(state, call.params["targetCheckNames"])
    running = sum(
        1
        for a in state.audits.values()
        if a.task_type == "ON_DEMAND_AUDIT_TASK" and a.status == "IN_PROGRESS"
    )
    if running >= service.max_in_progress_audits:
        raise limit_exceeded(f"At most {service.max_in_progress_audits} on-demand audits can be in progress.")
    return {"taskId": start_audit(service, state, "ON_DEMAND_AUDIT_TASK", checks, None, None).task_id}


def _audit(state: RegionState, task_id: str) -> AuditTask:
    audit = state.audits.get(task_id)
    if audit is None:
        raise not_found(f"Audit task {task_id} does not exist.")
    return audit


def _check_details(result: CheckResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"checkRunStatus": result.status}
    if result.status.startswith("COMPLETED"):
        entry.update(
            {
                "checkCompliant": result.status == "COMPLETED_COMPLIANT",
                "totalResourcesCount": result.total,
                "nonCompliantResourcesCount": result.non_compliant,
                "suppressedNonCompliantResourcesCount": result.suppressed,
            }
        )
    if result.error_code is not None:
        entry["errorCode"] = result.error_code
    if result.message is not None:
        entry["message"] = result.message
    return entry


def describe_audit_task(call: Call) -> dict[str, Any]:
    audit = _audit(call.state, call.params["taskId"])
    statuses = [r.status for r in audit.results.values()]
    response: dict[str, Any] = {
        "taskStatus": audit.status,
        "taskType": audit.task_type,
        "taskStartTime": audit.start,
        "taskStatistics": {
            "totalChecks": len(statuses),
            "inProgressChecks": statuses.count("IN_PROGRESS"),
            "waitingForDataCollectionChecks": statuses.count("WAITING_FOR_DATA_COLLECTION"),
            "compliantChecks": statuses.count("COMPLETED_COMPLIANT"),
            "nonCompliantChecks": statuses.count("COMPLETED_NON_COMPLIANT"),
            "failedChecks": statuses.count("FAILED"),
            "canceledChecks": statuses.count("CANCELED"),
        },
        "auditDetails": {name: _check_details(result) for name, result in audit.results.items()},
    }
    if audit.scheduled_audit_name is not None:
        response["scheduledAuditName"] = audit.scheduled_audit_name
    return response


def list_audit_tasks(call: Call) -> dict[str, Any]:
    p = call.params
    start, end = timestamp(p["startTime"]), timestamp(p["endTime"])
    if start < call.service.clock.now() - RETENTION:
        raise invalid_request("startTime is before the audit task retention period of 90 days.")
    items = [
        {"taskId": a.task_id, "taskStatus": a.status, "taskType": a.task_type}
        for a in call.state.audits.values()
        if start <= a.start <= end
        and p.get("taskType") in (None, a.task_type)
        and p.get("taskStatus") in (None, a.status)
    ]
    return page("ListAuditTasks", items, p, "tasks")


def cancel_audit_task(call: Call) -> dict[str, Any]:
    audit = _audit(call.state, call.params["taskId"])
    if audit.status != "IN_PROGRESS":
        raise invalid_request(f"Audit task {audit.task_id} is not in progress.")
    audit.status = "CANCELED"
    audit.end = call.service.clock.now()
    for result in audit.results.values():
        result.status = "CANCELED"
    _notify(call.service, call.state, audit, call.region)
    return {}


def list_audit_findings(call: Call) -> dict[str, Any]:
    p = call.params
    findings: Iterable[Finding] = call.state.findings.values()
    if p.get("taskId") is not None:
        findings = (f for f in findings if f.task_id == p["taskId"])
    else:
        start, end = timestamp(p["startTime"]), timestamp(p["endTime"])
        findings = (f for f in findings if start <= f.finding_time <= end)
    if p.get("checkName") is not None:
        findings = (f for f in findings if f.check_name == p["checkName"])
    if p.get("resourceIdentifier") is not None:
        key = resource_key(p["resourceIdentifier"])
        findings = (f for f in findings if resource_key(f.resource_identifier) == key)
    if p.get("listSuppressedFindings") is not None:
        findings = (f for f in findings if f.is_suppressed == p["listSuppressedFindings"])
    items = [f.to_api(RELATED_RESOURCES_IN_FINDING) for f in findings]
    return page("ListAuditFindings", items, p, "findings")


def _finding(state: RegionState, finding_id: str) -> Finding:
    finding = state.findings.get(finding_id)
    if finding is None:
        raise not_found(f"Finding {finding_id} does not exist.")
    return finding


def describe_audit_finding(call: Call) -> dict[str, Any]:
    return {"finding": _finding(call.state, call.params["findingId"]).to_api(RELATED_RESOURCES_IN_FINDING)}


def list_related_resources_for_audit_finding(call: Call) -> dict[str, Any]:
    finding = _finding(call.state, call.params["findingId"])
    return page(
        "ListRelatedResourcesForAuditFinding",
        list(finding.related_resources),
        call.params,
        "relatedResources",
    )


HANDLERS: Final[dict[str, Handler]] = {
    "StartOnDemandAuditTask": start_on_demand_audit_task,
    "DescribeAuditTask": describe_audit_task,
    "ListAuditTasks": list_audit_tasks,
    "CancelAuditTask": cancel_audit_task,
    "ListAuditFindings": list_audit_findings,
    "DescribeAuditFinding": describe_audit_finding,
    "ListRelatedResourcesForAuditFinding": list_related_resources_for_audit_finding,
}
