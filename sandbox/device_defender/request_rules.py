"""Rules the service enforces across a request's members, which the API model cannot express.

Each rule returns a message when the request breaks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sandbox.device_defender.service import Params, present, timestamp


def _task_xor_time_range(p: Params) -> str | None:
    members = present(p)
    if "taskId" in members and members & {"startTime", "endTime"}:
        return "Specify either taskId or startTime and endTime, not both."
    if "taskId" not in members and not {"startTime", "endTime"} <= members:
        return "Specify either taskId or both startTime and endTime."
    return None


def _time_range_in_order(p: Params) -> str | None:
    start, end = p.get("startTime"), p.get("endTime")
    if start is not None and end is not None and timestamp(start) > timestamp(end):
        return "startTime must not be after endTime."
    return None


def _one_mitigation_target(p: Params) -> str | None:
    members = present(p["target"])
    if "auditCheckToReasonCodeFilter" in members and "auditTaskId" not in members:
        return "auditCheckToReasonCodeFilter can only be used together with auditTaskId."
    if ("auditTaskId" in members) == ("findingIds" in members):
        return "The target must contain either auditTaskId or findingIds."
    return None


def _one_action_params(p: Params) -> str | None:
    params = p.get("actionParams")
    if params is not None and len(present(params)) != 1:
        return "actionParams must contain exactly one kind of action parameters."
    return None


def _one_resource_identifier(p: Params) -> str | None:
    identifier = p.get("resourceIdentifier")
    if identifier is not None and len(present(identifier)) != 1:
        return "resourceIdentifier must identify exactly one resource."
    return None


def schedule_days(p: Params) -> str | None:
    frequency = p.get("frequency")
    if frequency in ("WEEKLY", "BIWEEKLY") and p.get("dayOfWeek") is None:
        return f"dayOfWeek is required for frequency {frequency}."
    if frequency == "MONTHLY" and p.get("dayOfMonth") is None:
        return "dayOfMonth is required for frequency MONTHLY."
    return None


def _suppression_duration(p: Params) -> str | None:
    if p.get("suppressIndefinitely") and p.get("expirationDate") is not None:
        return "expirationDate cannot be combined with suppressIndefinitely."
    return None


REQUEST_RULES: Final[dict[str, tuple[Callable[[Params], str | None], ...]]] = {
    "ListAuditFindings": (_task_xor_time_range, _time_range_in_order, _one_resource_identifier),
    "ListAuditTasks": (_time_range_in_order,),
    "ListAuditMitigationActionsTasks": (_time_range_in_order,),
    "StartAuditMitigationActionsTask": (_one_mitigation_target,),
    "CreateMitigationAction": (_one_action_params,),
    "UpdateMitigationAction": (_one_action_params,),
    "CreateScheduledAudit": (schedule_days,),
    "CreateAuditSuppression": (_one_resource_identifier, _suppression_duration),
    "DescribeAuditSuppression": (_one_resource_identifier,),
    "UpdateAuditSuppression": (_one_resource_identifier, _suppression_duration),
    "DeleteAuditSuppression": (_one_resource_identifier,),
    "ListAuditSuppressions": (_one_resource_identifier,),
}


def broken_rule(operation_name: str, params: Params) -> str | None:
    """The message of the first rule of the operation that the request breaks, if any."""
    for rule in REQUEST_RULES.get(operation_name, ()):
        message = rule(params)
        if message is not None:
            return message
    return None
