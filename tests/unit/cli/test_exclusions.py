"""RESOURCE on the command line -> the ResourceIdentifier Device Defender keys a suppression by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from audit_remediator.checks import KNOWN_CHECKS
from remediator_cli.errors import Exit, OperatorError
from remediator_cli.exclusions import RESOURCE_TYPES, describe_resource, parse_until, resource_identifier
from sandbox.device_defender.catalog import CHECKS as SANDBOX_CHECKS


def test_every_known_check_has_the_resource_type_the_sandbox_plays() -> None:
    # One fact in two places on purpose (the product cannot import the sandbox): they must agree.
    assert set(RESOURCE_TYPES) == set(KNOWN_CHECKS)
    assert {name: spec.resource_type for name, spec in SANDBOX_CHECKS.items()} == RESOURCE_TYPES


@pytest.mark.parametrize(
    ("check", "resource", "identifier"),
    [
        ("DEVICE_CERTIFICATE_SHARED_CHECK", "abc123", {"deviceCertificateId": "abc123"}),
        ("REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK", "ca1", {"caCertificateId": "ca1"}),
        ("IOT_POLICY_OVERLY_PERMISSIVE_CHECK", "Open", {"policyVersionIdentifier": {"policyName": "Open"}}),
        (
            "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
            "Open:3",
            {"policyVersionIdentifier": {"policyName": "Open", "policyVersionId": "3"}},
        ),
        ("CONFLICTING_CLIENT_IDS_CHECK", "sensor-1", {"clientId": "sensor-1"}),
        ("LOGGING_DISABLED_CHECK", "123456789012", {"account": "123456789012"}),
        # A documentation-only name is the same check.
        ("REVOKED_DEVICE_CERT_CHECK", "abc123", {"deviceCertificateId": "abc123"}),
    ],
)
def test_resource_identifier(check: str, resource: str, identifier: dict[str, object]) -> None:
    assert resource_identifier(check, resource) == identifier
    assert describe_resource(identifier) == resource


def test_an_unknown_check_is_refused_with_the_known_names() -> None:
    with pytest.raises(OperatorError) as refused:
        resource_identifier("DEVICE_CERT_SHARED", "abc")
    assert refused.value.code is Exit.BAD_INPUT
    assert str(refused.value).startswith(
        "unknown check DEVICE_CERT_SHARED: use one of AUTHENTICATED_COGNITO_"
    )


def test_a_check_whose_resource_the_command_line_cannot_name_says_where_to_go() -> None:
    with pytest.raises(OperatorError) as refused:
        resource_identifier("INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK", "x")
    assert str(refused.value) == (
        "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK reports issuer certificate resources, "
        "which the command line cannot name: suppress it in the Device Defender console"
    )


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2030-01-31", datetime(2030, 1, 31, tzinfo=UTC)),
        ("2030-01-31T08:30", datetime(2030, 1, 31, 8, 30, tzinfo=UTC)),
        ("2030-01-31T08:30:00+02:00", datetime(2030, 1, 31, 8, 30, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_until(text: str, moment: datetime) -> None:
    assert parse_until(text) == moment


def test_an_until_that_is_no_date_is_refused() -> None:
    with pytest.raises(OperatorError) as refused:
        parse_until("next week")
    assert refused.value.code is Exit.BAD_INPUT
    assert str(refused.value) == (
        "--until 'next week' is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
    )
