"""Audit mitigation actions tasks: starting one, working through its findings, describing, cancelling."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.action_permissions import action_permissions
from sandbox.device_defender.errors import ServiceError, invalid_request, limit_exceeded, not_found
from sandbox.device_defender.mitigation import ActionContext, ActionFailed, apply_action
from sandbox.device_defender.service import Call, Handler, Params, Service, page, timestamp
from sandbox.device_defender.state import (
    CheckStatistics,
    Execution,
    Finding,
    FindingWork,
    MitigationActionDef,
    MitigationTask,
    RegionState,
)

# AWS General Reference, "AWS IoT Device Defender endpoints and quotas", table "Audit mitigation action limits"
# (https://docs.aws.amazon.com/general/latest/gr/iot_device_defender.html): 10 audit mitigation action tasks
# running at the same time (no adjustable column; service quotas are per account and Region). botocore's model
# lists LimitExceededException ("A limit has been exceeded.") among StartAuditMitigationActionsTask's errors.
MAX_IN_PROGRESS_MITIGATION_TASKS: Final = 10


def _targeted_findings(state: RegionState, target: Params) -> list[Finding]:
    if target.get("auditTaskId") is not None:
        audit = state.audits.get(target["auditTaskId"])
        if audit is None:
            raise invalid_request(f"Audit task {target['auditTaskId']} does not exist.")
        if audit.status != "COMPLETED":
            raise invalid_request(f"Audit task {audit.task_id} has not completed (status {audit.status}).")
        return [f for f in state.findings.values() if f.task_id == audit.task_id]
    findings = []
    for finding_id in dict.fromkeys(target["findingIds"]):
        finding = state.findings.get(finding_id)
        if finding is None:
            raise invalid_request(f"Finding {finding_id} does not exist.")
        findings.append(finding)
    return findings


def _mapped_actions(state: RegionState, mapping: Params) -> dict[str, list[MitigationActionDef]]:
    resolved: dict[str, list[MitigationActionDef]] = {}
    for check, names in mapping.items():
        spec = catalog.CHECKS.get(check)
        if spec is None:
            raise invalid_request(f"Request contains an invalid Audit Check Name: {check}")
        actions = []
        for name in names:
            action = state.actions.get(name)
            if action is None:
                raise invalid_request(f"Mitigation action {name} does not exist.")
            if action.action_type not in spec.actions:
                raise invalid_request(
                    f"Mitigation action {name} ({action.action_type}) cannot be used for {check}."
                )
            actions.append(action)
        resolved[check] = actions
    return resolved


def _check_new_task(call: Call, task_id: str, token: str) -> bool:
    """False when the request repeats an existing task's start (same id and token)."""
    tasks = call.state.mitigation_tasks
    existing = tasks.get(task_id)
    if existing is not None:
        if existing.client_request_token == token:
            return False
        raise ServiceError("TaskAlreadyExistsException", f"Task {task_id} already exists.")
    if any(t.client_request_token == token for t in tasks.values()):
        raise invalid_request("The clientRequestToken was already used for another task.")
    limit = call.service.max_in_progress_mitigation_tasks
    if sum(1 for t in tasks.values() if t.status == "IN_PROGRESS") >= limit:
        raise limit_exceeded(f"At most {limit} audit mitigation actions tasks can be in progress.")
    return True


def start_audit_mitigation_actions_task(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    task_id, token = p["taskId"], p["clientRequestToken"]
    if not _check_new_task(call, task_id, token):
        return {"taskId": task_id}
    target = {k: v for k, v in p["target"].items() if v is not None}
    mapping = {k: list(v) for k, v in p["auditCheckToActionsMapping"].items()}
    actions_by_check = _mapped_actions(state, mapping)
    findings = _targeted_findings(state, target)
    reason_filter: dict[str, list[str]] | None = target.get("auditCheckToReasonCodeFilter")
    now = call.service.clock.now()
    statistics = {check: CheckStatistics() for check in mapping}
    selected: list[tuple[Finding, list[MitigationActionDef]]] = []
    for finding in findings:
        if finding.check_name not in mapping:
            continue
        statistics[finding.check_name].total += 1
        filtered_out = reason_filter is not None and finding.reason_code not in reason_filter.get(
            finding.check_name, []
        )
        if filtered_out or finding.is_suppressed:
            statistics[finding.check_name].skipped += 1
            continue
        selected.append((finding, actions_by_check[finding.check_name]))
    duration = timedelta(seconds=call.service.mitigation_task_seconds)
    work = [
        FindingWork(finding, actions, now + duration * (index + 1) / len(selected))
        for index, (finding, actions) in enumerate(selected)
    ]
    state.mitigation_tasks[task_id] = MitigationTask(
        task_id=task_id,
        client_request_token=token,
        target=target,
        mapping=mapping,
        actions=list({a.name: a for actions in actions_by_check.values() for a in actions}.values()),
        start=now,
        due=now + duration,
        statistics=statistics,
        work=work,
        executions={
            w.finding.finding_id: [
                Execution(task_id, w.finding.finding_id, a.name, a.action_id) for a in w.actions
            ]
            for w in work
        },
        targeted_finding_ids={f.finding_id for f in findings},
    )
    return {"taskId": task_id}


def run_work(
    service: Service, state: RegionState, region: str, task: MitigationTask, work: FindingWork
) -> None:
    """Applies a finding's actions in order as of its due time; after a failure the rest are skipped."""
    context = ActionContext(
        iot=service.iot(region),
        state=state,
        topic_exists=service.topic_exists,
        publish=lambda topic, message: service.queue_message("finding", topic, message),
        now=work.due,
    )
    statistics = task.statistics[work.finding.check_name]
    executions = task.executions[work.finding.finding_id]
    failed = False
    for execution, action in zip(executions, work.actions, strict=True):
        execution.start = work.due
        execution.end = work.due
        if failed:
            execution.status = "SKIPPED"
            continue
        try:
            _authorize(service, region, action, work.finding)
            if action.action_type not in service.ineffective_action_types:
                apply_action(action, work.finding, context)
        except ActionFailed as error:
            failed = True
            execution.status = "FAILED"
            execution.error_code = error.code
            execution.message = error.message[:2048]
        else:
            execution.status = "COMPLETED"
    if failed:
        statistics.failed += 1
        task.any_failed = True
    else:
        statistics.succeeded += 1
    work.done = True


def _authorize(service: Service, region: str, action: MitigationActionDef, finding: Finding) -> None:
    """IoT assumes the action's role for the action's ARN; the role must allow what the action does."""
    if service.authority is None:
        return
    needed = action_permissions(action, finding, service.iot(region))
    denial = service.authority.iot_role_denial(action.role_arn, action.arn, needed)
    if denial is not None:
        raise ActionFailed(*denial)


def finish_tasks(state: RegionState, now: datetime) -> None:
    """Ends every task whose time is up and whose findings are all worked through."""
    for task in state.mitigation_tasks.values():
        if task.status == "IN_PROGRESS" and task.due <= now and all(w.done for w in task.work):
            task.status = "FAILED" if task.any_failed else "COMPLETED"
            task.end = max([task.due, *(w.due for w in task.work)])


def _mitigation_task(state: RegionState, task_id: str) -> MitigationTask:
    task = state.mitigation_tasks.get(task_id)
    if task is None:
        raise not_found(f"Audit mitigation actions task {task_id} does not exist.")
    return task


def describe_audit_mitigation_actions_task(call: Call) -> dict[str, Any]:
    task = _mitigation_task(call.state, call.params["taskId"])
    response: dict[str, Any] = {
        "taskStatus": task.status,
        "startTime": task.start,
        "taskStatistics": {check: s.to_api() for check, s in task.statistics.items()},
        "target": task.target,
        "auditCheckToActionsMapping": task.mapping,
        "actionsDefinition": [a.definition() for a in task.actions],
    }
    if task.end is not None:
        response["endTime"] = task.end
    return response


def _task_covers_audit(state: RegionState, task: MitigationTask, audit_task_id: str) -> bool:
    if task.target.get("auditTaskId") == audit_task_id:
        return True
    return any(
        state.findings[f].task_id == audit_task_id for f in task.targeted_finding_ids if f in state.findings
    )


def list_audit_mitigation_actions_tasks(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    start, end = timestamp(p["startTime"]), timestamp(p["endTime"])
    items = []
    for task in state.mitigation_tasks.values():
        if not start <= task.start <= end or p.get("taskStatus") not in (None, task.status):
            continue
        if p.get("auditTaskId") is not None and not _task_covers_audit(state, task, p["auditTaskId"]):
            continue
        if p.get("findingId") is not None and p["findingId"] not in task.targeted_finding_ids:
            continue
        items.append({"taskId": task.task_id, "startTime": task.start, "taskStatus": task.status})
    return page("ListAuditMitigationActionsTasks", items, p, "tasks")


def list_audit_mitigation_actions_executions(call: Call) -> dict[str, Any]:
    p = call.params
    task = call.state.mitigation_tasks.get(p["taskId"])
    executions = task.executions.get(p["findingId"], []) if task is not None else []
    items = [e.to_api() for e in executions if p.get("actionStatus") in (None, e.status)]
    return page("ListAuditMitigationActionsExecutions", items, p, "actionsExecutions")


def cancel_audit_mitigation_actions_task(call: Call) -> dict[str, Any]:
    task = _mitigation_task(call.state, call.params["taskId"])
    if task.status != "IN_PROGRESS":
        raise invalid_request(f"Task {task.task_id} is not in progress (status {task.status}).")
    now = call.service.clock.now()
    for work in task.work:
        if work.done:
            continue
        work.done = True
        task.statistics[work.finding.check_name].canceled += 1
        for execution in task.executions[work.finding.finding_id]:
            execution.status = "CANCELED"
            execution.end = now
    task.status = "CANCELED"
    task.end = now
    return {}


HANDLERS: Final[dict[str, Handler]] = {
    "StartAuditMitigationActionsTask": start_audit_mitigation_actions_task,
    "DescribeAuditMitigationActionsTask": describe_audit_mitigation_actions_task,
    "ListAuditMitigationActionsTasks": list_audit_mitigation_actions_tasks,
    "ListAuditMitigationActionsExecutions": list_audit_mitigation_actions_executions,
    "CancelAuditMitigationActionsTask": cancel_audit_mitigation_actions_task,
}
