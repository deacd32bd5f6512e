"""Parsing the messages that reach AuditEventsTopic (failure modes B14-B16 and security property 8)."""

import json
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_remediator.errors import RejectedMessageError
from audit_remediator.inbound import parse_message
from audit_remediator.intake import handle_event
from audit_remediator.models.notifications import AuditCompletionNotification, FindingNotification
from tests.conftest import load_event, sns_message, with_message
from tests.unit.fakes import make_fakes

SCHEDULED = load_event("scheduled-non-compliant")


pytestmark = pytest.mark.usefixtures("offline_aws")


def parse(message: Any) -> AuditCompletionNotification | FindingNotification:
    return parse_message(message if isinstance(message, str) else json.dumps(message))


def rejection(message: Any) -> RejectedMessageError:
    with pytest.raises(RejectedMessageError) as caught:
        parse(message)
    return caught.value


def test_documented_audit_payload_parses_with_epoch_millis_and_a_list_of_details() -> None:
    # Given the documented audit-completion payload (reference §5.1)
    message = sns_message(SCHEDULED)
    # When it is parsed
    parsed = parse(message)
    # Then every documented field is read, and auditDetails keeps its order
    assert isinstance(parsed, AuditCompletionNotification)
    assert parsed.task_start_time == message["taskStartTime"]
    assert parsed.scheduled_audit_name == "AWSIoTDeviceDefenderDailyAudit"
    assert [d.check_name for d in parsed.audit_details] == [d["checkName"] for d in message["auditDetails"]]


def test_observed_per_finding_message_parses() -> None:
    parsed = parse(sns_message(load_event("finding-iot-policy")))
    assert isinstance(parsed, FindingNotification)
    assert parsed.check_name == "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
    assert parsed.non_compliant_resource.resource_identifier.policy_version_identifier is not None


def test_finding_nested_under_a_wrapper_key_parses() -> None:
    finding = sns_message(load_event("finding-shared-certificate"))
    parsed = parse({"finding": finding, "mitigationTaskId": "t-1"})
    assert isinstance(parsed, FindingNotification)
    assert parsed.finding_id == finding["findingId"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m.pop("scheduledAuditName"), id="scheduledAuditName missing"),
        pytest.param(lambda m: m.update(brandNewField={"nested": [1, 2]}), id="extra top-level field"),
        pytest.param(lambda m: m["auditDetails"][0].update(severity="HIGH"), id="extra detail field"),
        pytest.param(
            lambda m: m["auditDetails"].append(
                {
                    "checkName": "DEVICE_CERTIFICATE_EXPIRING_CHECK_V2",
                    "checkRunStatus": "COMPLETED_NON_COMPLIANT",
                    "nonCompliantResourcesCount": 3,
                    "totalResourcesCount": 9,
                }
            ),
            id="unknown check name",
        ),
    ],
)
def test_tolerated_variants_parse(change: Any) -> None:
    # B14: unknown checks, extra fields and a missing scheduledAuditName are parsed fine
    message = sns_message(SCHEDULED)
    change(message)
    assert isinstance(parse(message), AuditCompletionNotification)


def _audit(**changes: Any) -> dict[str, Any]:
    message = sns_message(SCHEDULED)
    message.update(changes)
    return message


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        pytest.param('{"accountId": "1', "malformed-json", id="truncated JSON"),
        pytest.param("not json at all", "malformed-json", id="plain text"),
        pytest.param("[1, 2, 3]", "unrecognised-message", id="JSON array"),
        pytest.param('"a string"', "unrecognised-message", id="JSON string"),
        pytest.param({"hello": "world"}, "unrecognised-message", id="unknown shape"),
        pytest.param(_audit(nonCompliantChecksCount="3"), "invalid-audit-notification", id="string count"),
        pytest.param(
            '{"taskType": "SCHEDULED_AUDIT_TASK", "totalChecksCount": NaN}',
            "invalid-audit-notification",
            id="NaN",
        ),
        pytest.param(
            _audit(taskId="has_underscore"), "invalid-audit-notification", id="audit task id pattern"
        ),
        pytest.param(_audit(taskId="a" * 41), "invalid-audit-notification", id="audit task id too long"),
        pytest.param(
            _audit(taskStatus="IN_PROGRESS"), "invalid-audit-notification", id="unknown task status"
        ),
        pytest.param(_audit(accountId="12345"), "invalid-audit-notification", id="bad account id"),
        pytest.param(
            _audit(auditDetails={"LOGGING_DISABLED_CHECK": {}}),
            "invalid-audit-notification",
            id="details as map",
        ),
        pytest.param(
            _audit(auditDetails=[sns_message(SCHEDULED)["auditDetails"][0]] * 2),
            "invalid-audit-notification",
            id="check listed twice",
        ),
        pytest.param(
            {k: v for k, v in _audit().items() if k != "taskStartTime"},
            "invalid-audit-notification",
            id="missing field",
        ),
        pytest.param(
            {**sns_message(load_event("finding-iot-policy")), "findingId": "bad id!"},
            "invalid-finding-notification",
            id="finding id pattern",
        ),
        pytest.param(
            {k: v for k, v in sns_message(load_event("finding-iot-policy")).items() if k != "taskId"},
            "invalid-finding-notification",
            id="finding without audit task id",
        ),
        pytest.param(sns_message(load_event("detect-violation")), "detect-violation", id="Detect violation"),
    ],
)
def test_bad_messages_are_rejected_with_a_specific_reason(message: Any, reason: str) -> None:
    assert rejection(message).reason == reason


def test_ten_thousand_audit_details_are_rejected_quickly() -> None:
    detail = sns_message(SCHEDULED)["auditDetails"][0]
    message = _audit(auditDetails=[{**detail, "checkName": f"CHECK_{i}"} for i in range(10_000)])
    started = time.perf_counter()
    assert rejection(message).reason == "invalid-audit-notification"
    # Generous bound: the real figure is a few milliseconds (see `make bench`).
    assert time.perf_counter() - started < 2.0


def test_deeply_nested_json_is_rejected_without_recursion_error() -> None:
    message = '{"taskType": "SCHEDULED_AUDIT_TASK", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert rejection(message).reason == "malformed-json"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=40,
)
shaped_keys = st.sampled_from(
    [
        "auditDetails",
        "taskType",
        "findingId",
        "nonCompliantResource",
        "violationId",
        "finding",
        "taskId",
        "checkName",
    ]
)
# Surrogates included: a forged direct invoke can carry them, SNS never does.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        json_values.map(json.dumps),
        st.dictionaries(shaped_keys, json_values, max_size=6).map(json.dumps),
        any_text,
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    )
)
def test_the_handler_only_ever_accepts_or_rejects_a_message(message: str) -> None:
    # Security property 8: whatever the payload, the outcome is a decision; nothing else escapes
    fakes = make_fakes()
    outcome = handle_event(with_message(SCHEDULED, message), fakes.services)
    assert outcome.decision in {"remediate", "no-action", "rejected", "duplicate"}
    assert (outcome.decision == "rejected") == bool(fakes.quarantine.kept)


def test_a_finding_carrying_task_metadata_is_still_a_finding() -> None:
    finding = sns_message(load_event("finding-shared-certificate"))
    parsed = parse({**finding, "taskType": "ON_DEMAND_AUDIT_TASK", "mitigationTaskId": "m-1"})
    assert isinstance(parsed, FindingNotification)


@pytest.mark.parametrize(
    ("certificate_id", "valid"),
    [
        ("a" * 64, True),
        ("0x" + "a" * 62, True),
        ("0x" + "a" * 64, False),
        ("a" * 63, False),
        ("g" * 64, False),
    ],
)
def test_certificate_ids_follow_the_api_model(certificate_id: str, valid: bool) -> None:
    finding = sns_message(load_event("finding-shared-certificate"))
    finding["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateId"] = certificate_id
    if valid:
        assert isinstance(parse(finding), FindingNotification)
    else:
        assert rejection(finding).reason == "invalid-finding-notification"


def test_fields_no_decision_depends_on_never_veto_a_message() -> None:
    finding = sns_message(load_event("finding-shared-certificate"))
    finding.update(severity="informational", reasonForNonCompliance="x" * 5000)
    finding["nonCompliantResource"]["additionalInfo"] = {"CLIENT_IDS": ["a", "b"], "COUNT": 2}
    assert isinstance(parse(finding), FindingNotification)
    audit = _audit(scheduledAuditName="")
    audit["auditDetails"][0].update(errorCode="E" * 300, message="m" * 5000)
    assert isinstance(parse(audit), AuditCompletionNotification)


def test_huge_input_is_rejected_in_bounded_memory() -> None:
    detail = sns_message(SCHEDULED)["auditDetails"][0]
    message = json.dumps(_audit(auditDetails=[detail] * 2000, padding="x" * 150_000))
    tracemalloc.start()
    try:
        rejection(message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024
