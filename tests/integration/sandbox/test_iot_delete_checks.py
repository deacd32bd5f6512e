"""DeleteCertificate refuses what AWS IoT's API reference says it refuses, and nothing else: a policy
attached to a thing group (the stack's quarantine group) does not stop a certificate's deletion."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import Sandbox


def _group_with_policy(iot: Any) -> None:
    iot.create_policy(policyName="deny-all", policyDocument='{"Version": "2012-10-17", "Statement": []}')
    group = iot.create_thing_group(thingGroupName="quarantine")
    iot.attach_policy(policyName="deny-all", target=group["thingGroupArn"])


def test_a_detached_inactive_certificate_is_deleted_while_a_group_holds_a_policy(sb: Sandbox) -> None:
    iot = sb.client("iot")
    _group_with_policy(iot)
    certificate = iot.create_keys_and_certificate(setAsActive=False)

    iot.delete_certificate(certificateId=certificate["certificateId"])

    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_certificate(certificateId=certificate["certificateId"])


def test_a_certificate_with_a_policy_or_a_thing_or_active_is_still_refused(sb: Sandbox) -> None:
    iot = sb.client("iot")
    _group_with_policy(iot)
    active = iot.create_keys_and_certificate(setAsActive=True)
    with_policy = iot.create_keys_and_certificate(setAsActive=False)
    iot.attach_policy(policyName="deny-all", target=with_policy["certificateArn"])
    with_thing = iot.create_keys_and_certificate(setAsActive=False)
    iot.create_thing(thingName="device")
    iot.attach_thing_principal(thingName="device", principal=with_thing["certificateArn"])

    with pytest.raises(iot.exceptions.CertificateStateException):
        iot.delete_certificate(certificateId=active["certificateId"])
    with pytest.raises(iot.exceptions.DeleteConflictException, match="policies"):
        iot.delete_certificate(certificateId=with_policy["certificateId"])
    with pytest.raises(iot.exceptions.DeleteConflictException, match="Things"):
        iot.delete_certificate(certificateId=with_thing["certificateId"])
