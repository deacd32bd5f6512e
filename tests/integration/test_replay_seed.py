"""The replay seeds the audit a notification reports: an audit IoT knows, findings on real resources."""

from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from sandbox.replay_seed import MAX_FINDINGS_PER_CHECK, seed_replayed_message
from tests.conftest import load_event, sns_message, with_message


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def test_an_audit_notification_becomes_a_completed_audit_with_its_findings(sb: Sandbox) -> None:
    event = load_event("on-demand-non-compliant")
    message = sns_message(event)

    seeding = seed_replayed_message(sb, event)

    iot = sb.client("iot")
    described = iot.describe_audit_task(taskId=message["taskId"])
    assert described["taskStatus"] == "COMPLETED"
    expected = {
        detail["checkName"]: detail["nonCompliantResourcesCount"]
        for detail in message["auditDetails"]
        if detail["nonCompliantResourcesCount"]
    }
    assert seeding.findings == expected
    assert {
        check: details["nonCompliantResourcesCount"]
        for check, details in described["auditDetails"].items()
        if details["nonCompliantResourcesCount"]
    } == expected
    findings = iot.list_audit_findings(taskId=message["taskId"], maxResults=250)["findings"]
    assert len(findings) == sum(expected.values())
    certificates = [f["nonCompliantResource"]["resourceIdentifier"] for f in findings]
    for identifier in (i for i in certificates if "deviceCertificateId" in i):
        certificate = iot.describe_certificate(certificateId=identifier["deviceCertificateId"])
        assert certificate["certificateDescription"]["status"] == "ACTIVE"
        assert iot.list_principal_things(principal=certificate["certificateDescription"]["certificateArn"])[
            "things"
        ]
    assert message["taskId"] in seeding.note


def test_a_finding_message_becomes_that_finding_on_a_new_resource(sb: Sandbox) -> None:
    event = load_event("finding-shared-certificate")
    message = sns_message(event)

    seeding = seed_replayed_message(sb, event)

    finding = sb.client("iot").describe_audit_finding(findingId=message["findingId"])["finding"]
    assert (finding["taskId"], finding["checkName"]) == (message["taskId"], message["checkName"])
    assert finding["reasonForNonComplianceCode"] == message["reasonForNonComplianceCode"]
    assert seeding.findings == {message["checkName"]: 1}
    assert "not reused" in seeding.note


def test_more_resources_than_the_replay_seeds_are_named_not_created(sb: Sandbox) -> None:
    event = load_event("over-cap")
    message = sns_message(event)
    detail = next(d for d in message["auditDetails"] if d["nonCompliantResourcesCount"])
    detail["nonCompliantResourcesCount"] = MAX_FINDINGS_PER_CHECK + 1
    detail["totalResourcesCount"] = MAX_FINDINGS_PER_CHECK + 1

    seeding = seed_replayed_message(sb, with_message(event, message))

    assert seeding.findings == {}
    assert f"at most {MAX_FINDINGS_PER_CHECK}" in seeding.not_seeded[detail["checkName"]]
    assert sb.client("iot").list_audit_findings(taskId=message["taskId"])["findings"] == []


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("not json", "not a JSON object"),
        ({"taskId": "bad id!"}, "no valid audit task id"),
        ({"taskId": "t1", "accountId": "999999999999", "auditDetails": []}, "another account"),
    ],
)
def test_a_message_that_cannot_be_seeded_says_why(sb: Sandbox, message: object, why: str) -> None:
    seeding = seed_replayed_message(sb, with_message(load_event("compliant"), message))

    assert seeding.audit_task_id is None
    assert why in seeding.note
