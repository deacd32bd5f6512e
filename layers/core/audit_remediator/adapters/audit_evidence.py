"""What Device Defender says of a quarantined thing's findings since: the completed audits (ListAuditTasks,
paged at 250), the run status of a check in one audit (DescribeAuditTask's auditDetails) and whether the
audit has a finding of the check for one resource (ListAuditFindings by taskId, checkName and
resourceIdentifier, suppressed findings included: a suppression does not make a finding go away)."""

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import QuarantineTimerError
from audit_remediator.quarantine_expiry import AuditRun

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient

# ListAuditTasks: maxResults 1-250 (botocore's iot model).
PAGE_SIZE: Final = 250


class AuditEvidenceReader:
    def __init__(self, client: "IoTClient") -> None:
        self._client = client
        # ListAuditTasks gives no start time: each audit is described once per container, then asked per
        # check (a completed audit does not change).
        self._described: dict[str, Mapping[str, Any]] = {}

    def completed_audits(self, start: datetime, end: datetime) -> list[AuditRun]:
        runs: list[AuditRun] = []
        try:
            pages = self._client.get_paginator("list_audit_tasks").paginate(
                startTime=start, endTime=end, taskStatus="COMPLETED", PaginationConfig={"PageSize": PAGE_SIZE}
            )
            for page in pages:
                runs += [
                    AuditRun(task["taskId"], self._started(task["taskId"])) for task in page.get("tasks", [])
                ]
        except (ClientError, BotoCoreError) as error:
            raise QuarantineTimerError(f"IoT ListAuditTasks failed: {error}") from error
        return runs

    def _started(self, audit_task_id: str) -> datetime:
        started: datetime = self._describe(audit_task_id)["taskStartTime"]
        return started

    def _describe(self, audit_task_id: str) -> Mapping[str, Any]:
        if audit_task_id not in self._described:
            try:
                self._described[audit_task_id] = self._client.describe_audit_task(taskId=audit_task_id)
            except (ClientError, BotoCoreError) as error:
                raise QuarantineTimerError(
                    f"IoT DescribeAuditTask {audit_task_id} failed: {error}"
                ) from error
        return self._described[audit_task_id]

    def check_status(self, audit_task_id: str, check: str) -> str | None:
        detail = self._describe(audit_task_id).get("auditDetails", {}).get(check)
        return None if detail is None else detail.get("checkRunStatus")

    def finding_of(
        self, audit_task_id: str, check: str, resource_identifier: Mapping[str, Any]
    ) -> str | None:
        try:
            found = self._client.list_audit_findings(
                taskId=audit_task_id,
                checkName=check,
                resourceIdentifier=dict(resource_identifier),  # type: ignore[arg-type]
                maxResults=1,
            )
        except (ClientError, BotoCoreError) as error:
            raise QuarantineTimerError(
                f"IoT ListAuditFindings {audit_task_id} {check} failed: {error}"
            ) from error
        findings = found.get("findings", [])
        return str(findings[0]["findingId"]) if findings else None
