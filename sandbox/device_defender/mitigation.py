"""Mitigation action types applied to moto's IoT state, one finding at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from moto.core.exceptions import JsonRESTError
from moto.iot.models import IoTBackend

from sandbox.device_defender import catalog
from sandbox.device_defender.state import Finding, MitigationActionDef, RegionState

MAX_GROUPS_PER_THING: Final = 10
# BLANK_POLICY: a version that grants nothing, so every principal using the policy loses access.
BLANK_POLICY_DOCUMENT: Final = json.dumps({"Version": "2012-10-17", "Statement": []})


class ActionFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ActionContext:
    iot: IoTBackend
    state: RegionState
    topic_exists: Callable[[str], bool]
    publish: Callable[[str, str], None]
    now: datetime


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def finding_message(finding: Finding) -> str:
    """The per-finding SNS message in the observed PUBLISH_FINDING_TO_SNS format (reference §5.2)."""
    return json.dumps(
        {
            "findingId": finding.finding_id,
            "findingTime": _ms(finding.finding_time),
            "severity": finding.severity,
            "taskStartTime": _ms(finding.task_start_time),
            "nonCompliantResource": finding.non_compliant_resource(),
            "taskId": finding.task_id,
            "checkName": finding.check_name,
            "reasonForNonComplianceCode": finding.reason_code,
            "reasonForNonCompliance": finding.reason,
        }
    )


def _identifier(finding: Finding, member: str) -> Any:
    value = finding.resource_identifier.get(member)
    if value is None:
        raise ActionFailed(
            "INVALID_RESOURCE_TYPE",
            f"The action does not apply to a {finding.resource_type} resource.",
        )
    return value


def _moto_failure(error: JsonRESTError) -> ActionFailed:
    return ActionFailed(error.error_type, error.message)


def _deactivate_device_certificate(
    _action: MitigationActionDef, finding: Finding, ctx: ActionContext
) -> None:
    certificate_id = _identifier(finding, "deviceCertificateId")
    try:
        ctx.iot.update_certificate(certificate_id, "INACTIVE")
    except JsonRESTError as error:
        raise _moto_failure(error) from error


def _deactivate_ca_certificate(_action: MitigationActionDef, finding: Finding, ctx: ActionContext) -> None:
    certificate_id = _identifier(finding, "caCertificateId")
    try:
        ctx.iot.update_ca_certificate(certificate_id, "INACTIVE", None)
    except JsonRESTError as error:
        raise _moto_failure(error) from error


def _add_things_to_thing_groups(action: MitigationActionDef, finding: Finding, ctx: ActionContext) -> None:
    certificate_id = _identifier(finding, "deviceCertificateId")
    params = action.params["addThingsToThingGroupParams"]
    try:
        certificate = ctx.iot.describe_certificate(certificate_id)
        groups = [ctx.iot.describe_thing_group(name) for name in params["thingGroupNames"]]
        for thing_name in ctx.iot.list_principal_things(certificate.arn):
            thing = ctx.iot.describe_thing(thing_name)
            member_of = sum(1 for g in ctx.iot.thing_groups.values() if thing.arn in g.things)
            for group in groups:
                if thing.arn in group.things:
                    continue
                if member_of >= MAX_GROUPS_PER_THING:
                    raise ActionFailed(
                        "LimitExceededException",
                        f"Thing {thing_name} is already in {MAX_GROUPS_PER_THING} thing groups.",
                    )
                ctx.iot.add_thing_to_thing_group(group.thing_group_name, None, thing_name, None)
                member_of += 1
    except JsonRESTError as error:
        raise _moto_failure(error) from error


def _replace_default_policy_version(
    _action: MitigationActionDef, finding: Finding, ctx: ActionContext
) -> None:
    policy_name = _identifier(finding, "policyVersionIdentifier")["policyName"]
    try:
        ctx.iot.create_policy_version(policy_name, BLANK_POLICY_DOCUMENT, True)  # type: ignore[arg-type]
    except JsonRESTError as error:
        raise _moto_failure(error) from error


def _enable_iot_logging(action: MitigationActionDef, _finding: Finding, ctx: ActionContext) -> None:
    params = action.params["enableIoTLoggingParams"]
    ctx.state.v2_logging = {
        "roleArn": params["roleArnForLogging"],
        "defaultLogLevel": params["logLevel"],
        "disableAllLogs": False,
    }


def _publish_finding(action: MitigationActionDef, finding: Finding, ctx: ActionContext) -> None:
    topic_arn = action.params["publishFindingToSnsParams"]["topicArn"]
    if not ctx.topic_exists(topic_arn):
        raise ActionFailed("NotFound", f"Topic does not exist: {topic_arn}")
    ctx.publish(topic_arn, finding_message(finding))


_EXECUTORS: Final[dict[str, Callable[[MitigationActionDef, Finding, ActionContext], None]]] = {
    catalog.DEV_CERT: _deactivate_device_certificate,
    catalog.CA_CERT: _deactivate_ca_certificate,
    catalog.THING_GROUP: _add_things_to_thing_groups,
    catalog.POLICY: _replace_default_policy_version,
    catalog.LOGGING: _enable_iot_logging,
    catalog.SNS: _publish_finding,
}


def apply_action(action: MitigationActionDef, finding: Finding, ctx: ActionContext) -> None:
    """Applies one action to one finding; raises ActionFailed when the service would report a failure."""
    _EXECUTORS[action.action_type](action, finding, ctx)
