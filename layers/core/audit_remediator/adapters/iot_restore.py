"""The IoT writes a rollback makes, beside the reads pre-state recording makes (IotStateReader)."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.adapters.iot_state import IotStateReader
from audit_remediator.rollback_fields import RollbackIotError

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient


class IotRestorer(IotStateReader):
    def __init__(self, client: "IoTClient", certificate_arn_prefix: str) -> None:
        super().__init__(client, certificate_arn_prefix)
        self._dynamic: dict[str, bool] = {}

    def _write(self, operation: str, **params: Any) -> None:
        try:
            getattr(self._client, operation)(**params)
        except (ClientError, BotoCoreError) as error:
            raise RollbackIotError(f"IoT {operation} failed: {error}") from error

    def thing_certificates(self, thing_name: str) -> frozenset[str]:
        principals = self._pages("list_thing_principals", "principals", thingName=thing_name)
        return frozenset(
            str(arn).removeprefix(self._cert_arn) for arn in principals if str(arn).startswith(self._cert_arn)
        )

    def set_certificate_status(self, certificate_id: str, status: str) -> None:
        self._write("update_certificate", certificateId=certificate_id, newStatus=status)

    def set_ca_certificate_status(self, certificate_id: str, status: str) -> None:
        self._write("update_ca_certificate", certificateId=certificate_id, newStatus=status)

    def add_thing_to_group(self, thing_name: str, group: str) -> None:
        self._write("add_thing_to_thing_group", thingName=thing_name, thingGroupName=group)

    def remove_thing_from_group(self, thing_name: str, group: str) -> None:
        self._write("remove_thing_from_thing_group", thingName=thing_name, thingGroupName=group)

    def set_default_policy_version(self, policy_name: str, version_id: str) -> None:
        self._write("set_default_policy_version", policyName=policy_name, policyVersionId=version_id)

    def delete_policy_version(self, policy_name: str, version_id: str) -> None:
        self._write("delete_policy_version", policyName=policy_name, policyVersionId=version_id)

    def set_logging_options(self, default_log_level: str, disable_all_logs: bool) -> None:
        # No roleArn: naming one is passing it (iam:PassRole), which this role may not.
        self._write(
            "set_v2_logging_options", defaultLogLevel=default_log_level, disableAllLogs=disable_all_logs
        )

    def thing_exists(self, thing_name: str) -> bool:
        return self._call("describe_thing", missing_ok=True, thingName=thing_name) is not None

    def dynamic_group(self, group: str) -> bool:
        # DescribeThingGroup returns queryString for a dynamic group only (API reference); a deleted group
        # reads as static, so it is compared (and reported) like any other.
        if group not in self._dynamic:
            described = self._call("describe_thing_group", missing_ok=True, thingGroupName=group)
            self._dynamic[group] = bool(described and described.get("queryString"))
        return self._dynamic[group]
