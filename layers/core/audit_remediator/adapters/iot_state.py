"""What pre-state recording and verification read from AWS IoT. A resource that no longer exists reads as
None or empty (it was deleted; there is nothing to change or to restore); any other failure is a
ResourceStateError."""

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import ResourceStateError
from audit_remediator.impact import AuditFindingView
from audit_remediator.resource_state import ThingLink

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient

_MISSING = "ResourceNotFoundException"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _iso(moment: Any) -> str | None:
    """botocore parses IoT's timestamps to aware datetimes."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _view(finding: Mapping[str, Any]) -> AuditFindingView:
    resource = finding.get("nonCompliantResource", {})
    return AuditFindingView(
        finding_id=finding["findingId"],
        check=finding["checkName"],
        reason_code=finding.get("reasonForNonComplianceCode", ""),
        resource_type=resource.get("resourceType", ""),
        resource_identifier=resource.get("resourceIdentifier", {}),
        finding_time=_iso(finding.get("findingTime")),
    )


class IotStateReader:
    def __init__(self, client: "IoTClient", certificate_arn_prefix: str) -> None:
        self._client = client
        self._cert_arn = certificate_arn_prefix
        self._thing_group_arn = certificate_arn_prefix.removesuffix("cert/") + "thinggroup/"

    def _call(self, operation: str, *, missing_ok: bool = False, **params: Any) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**params)
        except ClientError as error:
            if missing_ok and _code(error) == _MISSING:
                return None
            raise ResourceStateError(f"IoT {operation} failed: {error}") from error
        except BotoCoreError as error:
            raise ResourceStateError(f"IoT {operation} failed: {error}") from error
        return result

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[Any]:
        try:
            for page in self._client.get_paginator(operation).paginate(**params):  # type: ignore[call-overload]
                yield from page.get(key, [])
        except ClientError as error:
            if _code(error) == _MISSING:
                return
            raise ResourceStateError(f"IoT {operation} failed: {error}") from error
        except BotoCoreError as error:
            raise ResourceStateError(f"IoT {operation} failed: {error}") from error

    def action_params(self, action_name: str) -> Mapping[str, Any]:
        result = self._call("describe_mitigation_action", actionName=action_name)
        assert result is not None
        return dict(result.get("actionParams", {}))

    def findings_page(
        self, audit_task_id: str, check: str, next_token: str | None, page_size: int
    ) -> tuple[list[AuditFindingView], str | None]:
        # Suppressed findings are not mitigated by Device Defender: nothing of theirs changes.
        params: dict[str, Any] = {
            "taskId": audit_task_id,
            "checkName": check,
            "listSuppressedFindings": False,
            "maxResults": page_size,
        }
        if next_token:
            params["nextToken"] = next_token
        result = self._call("list_audit_findings", **params)
        assert result is not None
        return [_view(f) for f in result.get("findings", [])], result.get("nextToken") or None

    def finding(self, finding_id: str) -> AuditFindingView | None:
        result = self._call("describe_audit_finding", missing_ok=True, findingId=finding_id)
        return None if result is None else _view(result["finding"])

    def certificate_status(self, certificate_id: str) -> str | None:
        result = self._call("describe_certificate", missing_ok=True, certificateId=certificate_id)
        return None if result is None else str(result["certificateDescription"]["status"])

    def ca_certificate_status(self, certificate_id: str) -> str | None:
        result = self._call("describe_ca_certificate", missing_ok=True, certificateId=certificate_id)
        return None if result is None else str(result["certificateDescription"]["status"])

    def certificate_things(self, certificate_id: str, limit: int) -> list[ThingLink]:
        links: list[ThingLink] = []
        for item in self._pages(
            "list_principal_things_v2",
            "principalThingObjects",
            principal=self._cert_arn + certificate_id,
            PaginationConfig={"PageSize": 250, "MaxItems": limit},
        ):
            links.append(ThingLink(item["thingName"], item.get("thingPrincipalType")))
        return links

    def thing_groups(self, thing_name: str) -> list[str]:
        return [
            group["groupName"]
            for group in self._pages(
                "list_thing_groups_for_thing",
                "thingGroups",
                thingName=thing_name,
                PaginationConfig={"PageSize": 250},
            )
        ]

    def policy_default_version(self, policy_name: str) -> str | None:
        result = self._call("get_policy", missing_ok=True, policyName=policy_name)
        return None if result is None else str(result["defaultVersionId"])

    def policy_grants_nothing(self, policy_name: str, version_id: str) -> bool:
        result = self._call(
            "get_policy_version", missing_ok=True, policyName=policy_name, policyVersionId=version_id
        )
        if result is None:
            return False
        statements = json.loads(result["policyDocument"]).get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        return not any(statement.get("Effect") == "Allow" for statement in statements)

    def logging_options(self) -> dict[str, Any]:
        try:
            result = self._client.get_v2_logging_options()
        except ClientError as error:
            # Never set in this account and Region: GetV2LoggingOptions answers NotConfiguredException.
            if _code(error) == "NotConfiguredException":
                return {"configured": False}
            raise ResourceStateError(f"IoT get_v2_logging_options failed: {error}") from error
        except BotoCoreError as error:
            raise ResourceStateError(f"IoT get_v2_logging_options failed: {error}") from error
        return {key: result[key] for key in ("roleArn", "defaultLogLevel", "disableAllLogs") if key in result}

    def group_policies(self, group_name: str) -> frozenset[str]:
        return frozenset(
            policy["policyName"]
            for policy in self._pages(
                "list_attached_policies",
                "policies",
                target=self._thing_group_arn + group_name,
                PaginationConfig={"PageSize": 250},
            )
        )

    def finding_action_statuses(self, task_id: str, finding_id: str) -> list[str]:
        return [
            str(execution["status"])
            for execution in self._pages(
                "list_audit_mitigation_actions_executions",
                "actionsExecutions",
                taskId=task_id,
                findingId=finding_id,
            )
        ]
