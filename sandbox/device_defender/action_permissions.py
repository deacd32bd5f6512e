"""What AWS IoT does with a mitigation action's role, as IAM requests: the permissions each action
type needs on the finding's resources (Device Defender developer guide, "Mitigation actions", the
role permissions of each action type) and the role IoT assumes to send audit notifications.

IoT assumes the role with aws:SourceArn the resource the role was given to (Device Defender
developer guide, "Cross-service confused deputy prevention": the mitigation action's ARN for an
action's role, `arn:aws:iot:REGION:ACCOUNT:` for the audit and notification roles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Protocol

from moto.iot.models import IoTBackend

from sandbox.device_defender import catalog
from sandbox.device_defender.state import Finding, MitigationActionDef
from sandbox.iam.requests import WRITE_KEY_ACTIONS, Access


class RoleAuthority(Protocol):
    """IAM, as the sandbox enforces it (None: nothing is checked)."""

    def iot_role_denial(
        self, role_arn: str, source_arn: str, needed: Sequence[Access]
    ) -> tuple[str, str] | None:
        """(error code, message) when IoT may not assume `role_arn` for `source_arn` or the role may
        not do all of `needed`; None when it may."""
        ...


def _iot_arn(region: str, account: str, resource: str) -> str:
    return f"arn:aws:iot:{region}:{account}:{resource}"


def _device_certificate(_action: MitigationActionDef, finding: Finding, iot: IoTBackend) -> list[Access]:
    certificate = finding.resource_identifier.get("deviceCertificateId", "")
    return [Access("iot:UpdateCertificate", _iot_arn(iot.region_name, iot.account_id, f"cert/{certificate}"))]


def _ca_certificate(_action: MitigationActionDef, finding: Finding, iot: IoTBackend) -> list[Access]:
    certificate = finding.resource_identifier.get("caCertificateId", "")
    return [
        Access("iot:UpdateCACertificate", _iot_arn(iot.region_name, iot.account_id, f"cacert/{certificate}"))
    ]


def _thing_group(action: MitigationActionDef, finding: Finding, iot: IoTBackend) -> list[Access]:
    certificate_id = finding.resource_identifier.get("deviceCertificateId", "")
    needed = [Access("iot:ListPrincipalThings", "*")]
    certificate = iot.certificates.get(certificate_id)
    things = iot.list_principal_things(certificate.arn) if certificate is not None else []
    for group_name in action.params["addThingsToThingGroupParams"]["thingGroupNames"]:
        group_arn = _iot_arn(iot.region_name, iot.account_id, f"thinggroup/{group_name}")
        for thing in things:
            thing_arn = _iot_arn(iot.region_name, iot.account_id, f"thing/{thing}")
            needed += [
                Access("iot:AddThingToThingGroup", group_arn),
                Access("iot:AddThingToThingGroup", thing_arn),
            ]
    return needed


def _policy(_action: MitigationActionDef, finding: Finding, iot: IoTBackend) -> list[Access]:
    name = finding.resource_identifier.get("policyVersionIdentifier", {}).get("policyName", "")
    return [Access("iot:CreatePolicyVersion", _iot_arn(iot.region_name, iot.account_id, f"policy/{name}"))]


def _logging(action: MitigationActionDef, _finding: Finding, _iot: IoTBackend) -> list[Access]:
    role = action.params["enableIoTLoggingParams"]["roleArnForLogging"]
    return [
        Access("iot:SetV2LoggingOptions", "*"),
        Access("iam:PassRole", role, context={"iam:PassedToService": "iot.amazonaws.com"}),
    ]


def _publish(action: MitigationActionDef, _finding: Finding, _iot: IoTBackend) -> list[Access]:
    topic = action.params["publishFindingToSnsParams"]["topicArn"]
    return [Access("sns:Publish", topic, "topic", key_actions=WRITE_KEY_ACTIONS)]


_NEEDED: Final[dict[str, Callable[[MitigationActionDef, Finding, IoTBackend], list[Access]]]] = {
    catalog.DEV_CERT: _device_certificate,
    catalog.CA_CERT: _ca_certificate,
    catalog.THING_GROUP: _thing_group,
    catalog.POLICY: _policy,
    catalog.LOGGING: _logging,
    catalog.SNS: _publish,
}


def action_permissions(action: MitigationActionDef, finding: Finding, iot: IoTBackend) -> list[Access]:
    return _NEEDED[action.action_type](action, finding, iot)


def notification_permissions(topic_arn: str) -> list[Access]:
    return [Access("sns:Publish", topic_arn, "topic", key_actions=WRITE_KEY_ACTIONS)]


def audit_source_arn(region: str, account: str) -> str:
    return _iot_arn(region, account, "")
