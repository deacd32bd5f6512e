"""IoT things, thing groups, policies and attachments (moto); Device Defender mitigation actions, scheduled
audits and the account audit configuration (the Device Defender emulator)."""

from __future__ import annotations

from typing import Any, Final

from sandbox.account_audit_resource import create_account_audit_configuration
from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import attribute_text, cfn_to_api
from tools.cloudformation_checks import CLOUDFORMATION_CHECK_PROPERTIES

AUDIT_CHECK_NAMES: Final = CLOUDFORMATION_CHECK_PROPERTIES
_AUDIT_CHECK_CONFIGURATION_NAMES: Final = {
    "CertAgeThresholdInDays": "CERT_AGE_THRESHOLD_IN_DAYS",
    "CertExpirationThresholdInDays": "CERT_EXPIRATION_THRESHOLD_IN_DAYS",
}


def iot_thing_group(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    if "QueryString" in p:
        raise DeployError(f"{logical_id}: dynamic thing groups (QueryString) are not supported by moto")
    name = p.get("ThingGroupName") or d.physical_name(logical_id, max_length=128)
    group = d.client("iot").create_thing_group(
        **cfn_to_api({**p, "ThingGroupName": name}, "iot", "CreateThingGroup")
    )
    return Created(name, {"Arn": group["thingGroupArn"], "Id": group["thingGroupId"]})


def iot_thing(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ThingName") or d.physical_name(logical_id, max_length=128)
    thing = d.client("iot").create_thing(**cfn_to_api({**p, "ThingName": name}, "iot", "CreateThing"))
    return Created(name, {"Arn": thing["thingArn"], "Id": thing["thingId"]})


def iot_policy(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("PolicyName") or d.physical_name(logical_id, max_length=128)
    policy = d.client("iot").create_policy(
        policyName=name, policyDocument=attribute_text(p["PolicyDocument"])
    )
    return Created(name, {"Arn": policy["policyArn"], "Id": name})


def iot_policy_attachment(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    d.client("iot").attach_policy(policyName=p["PolicyName"], target=p["Principal"])
    return Created(d.physical_name(logical_id))


def iot_thing_attachment(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    d.client("iot").attach_thing_principal(thingName=p["ThingName"], principal=p["Principal"])
    return Created(d.physical_name(logical_id))


def iot_mitigation_action(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ActionName") or d.physical_name(logical_id, max_length=128)
    action = d.client("iot").create_mitigation_action(
        **cfn_to_api({**p, "ActionName": name}, "iot", "CreateMitigationAction")
    )
    return Created(
        name, {"MitigationActionArn": action["actionArn"], "MitigationActionId": action["actionId"]}
    )


def iot_scheduled_audit(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ScheduledAuditName") or d.physical_name(logical_id, max_length=128)
    audit = d.client("iot").create_scheduled_audit(
        **cfn_to_api({**p, "ScheduledAuditName": name}, "iot", "CreateScheduledAudit")
    )
    return Created(name, {"ScheduledAuditArn": audit["scheduledAuditArn"]})


def iot_account_audit_configuration(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    checks: dict[str, Any] = {}
    for property_name, configuration in p.get("AuditCheckConfigurations", {}).items():
        if property_name not in AUDIT_CHECK_NAMES:
            raise DeployError(f"{logical_id}: unknown audit check property {property_name}")
        check: dict[str, Any] = {"enabled": text(configuration.get("Enabled", "false")) == "true"}
        if "Configuration" in configuration:
            check["configuration"] = {
                _AUDIT_CHECK_CONFIGURATION_NAMES.get(key, key): text(value)
                for key, value in configuration["Configuration"].items()
            }
        checks[AUDIT_CHECK_NAMES[property_name]] = check
    request: dict[str, Any] = {"roleArn": p["RoleArn"], "auditCheckConfigurations": checks}
    targets = p.get("AuditNotificationTargetConfigurations", {})
    if "Sns" in targets:
        sns = targets["Sns"]
        request["auditNotificationTargetConfigurations"] = {
            "SNS": {
                key: value
                for key, value in {
                    "targetArn": sns.get("TargetArn"),
                    "roleArn": sns.get("RoleArn"),
                    "enabled": text(sns.get("Enabled", "false")) == "true",
                }.items()
                if value is not None
            }
        }
    create_account_audit_configuration(
        d.client("iot"),
        logical_id=logical_id,
        template_account_id=str(p["AccountId"]),
        account_id=d.account_id,
        request=request,
    )
    return Created(str(p["AccountId"]))


def delete_thing_group(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("iot").delete_thing_group(thingGroupName=created.physical_id)


def delete_iot_policy(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("iot").delete_policy(policyName=created.physical_id)


def delete_mitigation_action(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("iot").delete_mitigation_action(actionName=created.physical_id)


def delete_scheduled_audit(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("iot").delete_scheduled_audit(scheduledAuditName=created.physical_id)


def delete_account_audit_configuration(d: ResourceContext, _created: Created, _p: dict[str, Any]) -> None:
    d.client("iot").delete_account_audit_configuration(deleteScheduledAudits=True)
