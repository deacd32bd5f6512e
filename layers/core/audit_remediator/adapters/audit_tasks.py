"""What the reconciliation sweep reads from Device Defender: the completed audits of a time range
(ListAuditTasks, paged to its end at 250 a page) and one audit's description (DescribeAuditTask),
turned into the audit-completion notification Device Defender would have sent for it."""

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from audit_remediator.errors import AwsCallError, ReconcileError
from audit_remediator.models.notifications import AuditCompletionNotification

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient

# ListAuditTasks: maxResults 1-250, default 25 (botocore's iot model).
PAGE_SIZE = 250


def notification_of(account_id: str, audit_task_id: str, described: dict[str, Any]) -> dict[str, Any]:
    """DescribeAuditTask's answer in the shape of the audit-completion notification (reference §5.1):
    the notification lists the checks (DescribeAuditTask maps them) and counts checks by outcome; a
    check that did not complete has no resource counts in DescribeAuditTask, and 0 in the message."""
    statistics = described.get("taskStatistics", {})
    details = []
    for name, detail in described.get("auditDetails", {}).items():
        entry: dict[str, Any] = {
            "checkName": name,
            "checkRunStatus": detail.get("checkRunStatus"),
            "nonCompliantResourcesCount": detail.get("nonCompliantResourcesCount", 0),
            "totalResourcesCount": detail.get("totalResourcesCount", 0),
        }
        for optional in ("suppressedNonCompliantResourcesCount", "errorCode", "message"):
            if optional in detail:
                entry[optional] = detail[optional]
        details.append(entry)
    message: dict[str, Any] = {
        "accountId": account_id,
        "taskId": audit_task_id,
        "taskStatus": described.get("taskStatus"),
        "taskType": described.get("taskType"),
        "failedChecksCount": statistics.get("failedChecks", 0),
        "canceledChecksCount": statistics.get("canceledChecks", 0),
        "nonCompliantChecksCount": statistics.get("nonCompliantChecks", 0),
        "compliantChecksCount": statistics.get("compliantChecks", 0),
        "totalChecksCount": statistics.get("totalChecks", 0),
        "auditDetails": details,
    }
    started = described.get("taskStartTime")
    if isinstance(started, datetime):
        message["taskStartTime"] = int(started.timestamp() * 1000)
    if "scheduledAuditName" in described:
        message["scheduledAuditName"] = described["scheduledAuditName"]
    return message


class AuditTaskReader:
    def __init__(self, client: "IoTClient", account_id: str) -> None:
        self._client = client
        self._account_id = account_id

    def completed(self, start: datetime, end: datetime) -> Iterator[str]:
        """The ids of the audits that completed, started between `start` and `end`."""
        try:
            pages = self._client.get_paginator("list_audit_tasks").paginate(
                startTime=start,
                endTime=end,
                taskStatus="COMPLETED",
                PaginationConfig={"PageSize": PAGE_SIZE},
            )
            for page in pages:
                for task in page.get("tasks", []):
                    yield task["taskId"]
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"IoT ListAuditTasks failed: {error}") from error

    def notification(self, audit_task_id: str) -> AuditCompletionNotification:
        try:
            described = self._client.describe_audit_task(taskId=audit_task_id)
        except (ClientError, BotoCoreError) as error:
            raise ReconcileError(f"IoT DescribeAuditTask {audit_task_id} failed: {error}") from error
        message = notification_of(self._account_id, audit_task_id, dict(described))
        try:
            return AuditCompletionNotification.model_validate(message)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()[:3]
            )
            raise ReconcileError(
                f"audit {audit_task_id} as DescribeAuditTask describes it is not a valid audit: {problems}"
            ) from error
