"""The handler's logic with in-memory collaborators: decisions, provenance and duplicates."""

import json
from typing import Any

import pytest

from audit_remediator.errors import RulesError
from audit_remediator.intake import handle_event, outcome_document
from audit_remediator.rules import RuleSet
from tests.conftest import AUDIT_EVENTS_TOPIC_ARN, load_event, readme_decisions, sns_message, with_message
from tests.unit.fakes import Fakes, make_fakes

# The message kind of each sample event; the decision is the one the README's event table states.
KINDS = {
    "scheduled-non-compliant": "audit",
    "on-demand-non-compliant": "audit",
    "compliant": "audit",
    "audit-failed": "audit",
    "audit-canceled": "audit",
    "check-insufficient-permissions": "audit",
    "unknown-check": "audit",
    "over-cap": "audit",
    "finding-iot-policy": "finding",
    "finding-shared-certificate": "finding",
    "malformed-json": "unknown",
    "foreign-account": "audit",
    "foreign-topic": "unknown",
    "detect-violation": "unknown",
}


def run(fakes: Fakes, event: Any, invocation: str = "invocation-1") -> dict[str, Any]:
    return outcome_document(handle_event(event, fakes.services, invocation))


def test_every_sample_event_has_a_kind(event_names: list[str]) -> None:
    assert sorted(KINDS) == event_names


@pytest.mark.parametrize(("name", "kind"), sorted(KINDS.items()))
def test_sample_events_get_the_documented_decision(name: str, kind: str) -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event(name))
    assert (outcome["decision"], outcome["kind"]) == (readme_decisions()[f"{name}.json"], kind)
    started = bool(fakes.executions.started)
    assert started == (outcome["execution"] is not None)
    assert bool(fakes.quarantine.kept) == (outcome["decision"] == "rejected")


def test_a_remediate_decision_starts_the_plan_it_reports() -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event("scheduled-non-compliant"))
    name = outcome["execution"]["name"]
    assert name == f"audit-9a7b3c2d1e0f4a5b6c7d8e9f0a1b2c3d-{outcome['rulesVersion']}"
    assert json.loads(fakes.executions.started[name]) == outcome["execution"]["input"]
    assert outcome["mitigationTasks"] == outcome["execution"]["input"]["tasks"]


def test_no_action_decisions_are_recorded() -> None:
    # B14: an unknown check means no action, and a decision record is written
    fakes = make_fakes()
    outcome = run(fakes, load_event("unknown-check"))
    [(audit_task_id, version, decision)] = fakes.history.decisions
    assert audit_task_id == "ddddeeeeffff00001111222233334444"
    assert version == outcome["rulesVersion"]
    assert decision["skipped"] == {"DEVICE_CERTIFICATE_ALGORITHM_DEPRECATED_CHECK": "no-rule: unknown check"}


def test_an_over_cap_audit_starts_a_run_that_only_reports_the_capped_group() -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event("over-cap"))
    plan = outcome["execution"]["input"]
    assert plan["tasks"] == []
    assert plan["capped"] == [
        {
            "check": "DEVICE_CERTIFICATE_SHARED_CHECK",
            "affectedResources": 40,
            "maxResources": 25,
            "actions": [
                "iot-audit-remediator-QuarantineThingsAction",
                "iot-audit-remediator-DeactivateDeviceCertificateAction",
            ],
        }
    ]


def test_dry_run_mode_plans_everything_and_marks_every_task_dry_run() -> None:
    # D33: the whole pipeline runs; the workflow never starts a dry-run task
    fakes = make_fakes(REMEDIATION_MODE="DryRun")
    outcome = run(fakes, load_event("scheduled-non-compliant"))
    assert outcome["decision"] == "remediate"
    assert {task["mode"] for task in outcome["execution"]["input"]["tasks"]} == {"dry-run"}


def _forged(change: str) -> Any:
    event = load_event("scheduled-non-compliant")
    record = event["Records"][0]
    match change:
        case "topic":
            record["Sns"]["TopicArn"] = AUDIT_EVENTS_TOPIC_ARN.replace("audit-events", "audit-eventz")
        case "subscription":
            record["EventSubscriptionArn"] = "arn:aws:sns:us-east-1:123456789012:other-topic:1234"
        case "other region":
            record["Sns"]["TopicArn"] = AUDIT_EVENTS_TOPIC_ARN.replace("us-east-1", "eu-west-1")
        case "event source":
            record["EventSource"] = "aws:sqs"
        case "message type":
            record["Sns"]["Type"] = "SubscriptionConfirmation"
        case "two records":
            event["Records"].append(record)
        case "no records":
            event["Records"] = []
        case "not an object":
            return ["Records"]
        case "huge message":
            record["Sns"]["Message"] = json.dumps({**sns_message(event), "padding": "x" * (300 * 1024)})
        case "finding from another account":
            message = sns_message(load_event("finding-shared-certificate"))
            message["nonCompliantResource"]["resourceIdentifier"]["account"] = "999988887777"
            record["Sns"]["Message"] = json.dumps(message)
        case "finding from another region":
            message = sns_message(load_event("finding-shared-certificate"))
            message["nonCompliantResource"]["resourceIdentifier"]["deviceCertificateArn"] = (
                "arn:aws:iot:eu-west-1:123456789012:cert/" + "a" * 64
            )
            record["Sns"]["Message"] = json.dumps(message)
    return event


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("topic", "foreign-topic"),
        ("subscription", "foreign-subscription"),
        ("other region", "foreign-topic"),
        ("event source", "not-an-sns-event"),
        ("message type", "not-an-sns-event"),
        ("two records", "not-an-sns-event"),
        ("no records", "not-an-sns-event"),
        ("not an object", "not-an-sns-event"),
        ("huge message", "message-too-large"),
        ("finding from another account", "foreign-account"),
        ("finding from another region", "foreign-region"),
    ],
)
def test_forged_events_are_rejected_quarantined_and_start_nothing(change: str, reason: str) -> None:
    # E40 and security property 4: act only on our topic, subscription, account and Region
    fakes = make_fakes()
    outcome = run(fakes, _forged(change))
    assert outcome["decision"] == "rejected"
    assert outcome["reason"].startswith(reason)
    assert fakes.executions.calls == []
    assert [reason_kept.split(":")[0] for _, reason_kept in fakes.quarantine.kept] == [reason]


def test_three_deliveries_of_one_notification_start_one_execution() -> None:
    # A1: the same SNS message three times
    fakes = make_fakes()
    event = load_event("scheduled-non-compliant")
    decisions = [run(fakes, event, f"invocation-{n}")["decision"] for n in range(3)]
    assert decisions == ["remediate", "duplicate", "duplicate"]
    assert len(fakes.executions.started) == 1


def test_two_messages_about_one_audit_start_one_execution() -> None:
    # A2: another MessageId (second subscription, re-publish) carries the same audit task id
    fakes = make_fakes()
    first = load_event("scheduled-non-compliant")
    second = json.loads(json.dumps(first))
    second["Records"][0]["Sns"]["MessageId"] = "00000000-0000-4000-8000-000000000999"
    assert run(fakes, first)["decision"] == "remediate"
    assert run(fakes, second, "invocation-2")["decision"] == "duplicate"
    assert len(fakes.executions.started) == 1


def test_a_duplicate_after_the_idempotency_record_expired_starts_nothing_new() -> None:
    # A3: the record is gone; the deterministic execution name still holds
    fakes = make_fakes()
    event = load_event("scheduled-non-compliant")
    run(fakes, event)
    fakes.once.results.clear()
    assert run(fakes, event, "invocation-2")["decision"] == "duplicate"
    assert len(fakes.executions.started) == 1
    assert len(fakes.executions.calls) == 2


def test_key_order_and_whitespace_do_not_change_the_idempotency_key() -> None:
    # A10
    fakes = make_fakes()
    event = load_event("scheduled-non-compliant")
    message = sns_message(event)
    reordered = json.dumps(dict(reversed(list(message.items()))), indent=4)
    run(fakes, event)
    run(fakes, with_message(event, reordered), "invocation-2")
    assert len(fakes.once.results) == 1
    assert len(fakes.executions.started) == 1


def test_unusable_rules_remediate_nothing_and_fail_the_invocation() -> None:
    # D30: fail closed, and raise so the event is retried and then kept by the on-failure destination
    def broken() -> RuleSet:
        raise RulesError("rules table is invalid: test")

    fakes = make_fakes(rules=broken)
    with pytest.raises(RulesError):
        run(fakes, load_event("scheduled-non-compliant"))
    assert fakes.executions.calls == []
    assert fakes.history.claims == {}


def test_a_redelivered_finding_is_recognised_and_queued_once() -> None:
    # D34: a per-finding message that reaches us twice never leads to a second task for it
    fakes = make_fakes()
    event = load_event("finding-shared-certificate")
    first = run(fakes, event)
    fakes.once.results.clear()
    second = run(fakes, event, "invocation-2")
    assert (first["decision"], second["decision"]) == ("remediate", "duplicate")
    assert [len(ids) for ids in fakes.history.inbox.values()] == [1]
    assert len(fakes.executions.started) == 1


def test_a_redelivered_finding_restarts_the_window_if_the_first_delivery_stopped_early() -> None:
    # The first delivery claimed the finding, then stopped before StartExecution
    fakes = make_fakes()
    event = load_event("finding-shared-certificate")
    original_start = fakes.executions.start

    def crash(name: str, input_json: str) -> Any:
        raise RuntimeError("invocation timed out")

    fakes.executions.start = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        run(fakes, event)
    fakes.executions.start = original_start  # type: ignore[method-assign]
    outcome = run(fakes, event, "invocation-2")
    assert outcome["decision"] == "duplicate"
    assert list(fakes.executions.started) == [outcome["execution"]["name"]]


def test_findings_of_one_window_share_its_execution() -> None:
    fakes = make_fakes()
    event = load_event("finding-shared-certificate")
    outcomes = []
    for index in range(5):
        message = sns_message(event)
        message["findingId"] = f"finding-{index}"
        outcomes.append(run(fakes, with_message(event, message), f"invocation-{index}"))
    assert len({outcome["execution"]["name"] for outcome in outcomes}) == 1
    # Each is its finding's first delivery, though only the first started the window's execution
    assert [outcome["decision"] for outcome in outcomes] == ["remediate"] * 5
    assert [sorted(ids) for ids in fakes.history.inbox.values()] == [[f"finding-{i}" for i in range(5)]]


def test_a_finding_the_audits_own_execution_covers_starts_nothing() -> None:
    # D34: the audit's execution already remediates every finding of its checks
    fakes = make_fakes()
    audit = run(fakes, load_event("scheduled-non-compliant"))
    outcome = run(fakes, load_event("finding-shared-certificate"), "invocation-2")
    assert outcome["decision"] == "duplicate"
    assert audit["execution"]["name"] in outcome["reason"]
    assert list(fakes.executions.started) == [audit["execution"]["name"]]
    assert fakes.history.inbox == {}


def test_a_finding_of_a_check_the_audit_did_not_cover_is_still_queued() -> None:
    fakes = make_fakes()
    run(fakes, load_event("check-insufficient-permissions"))  # covers REVOKED_DEVICE_... only
    outcome = run(fakes, load_event("finding-shared-certificate"), "invocation-2")
    assert outcome["decision"] == "remediate"


def test_a_redelivery_in_a_later_window_reports_the_execution_it_was_queued_in() -> None:
    event = load_event("finding-shared-certificate")
    fakes = make_fakes(now=1_763_608_500.0)
    first = run(fakes, event)
    fakes.once.results.clear()
    fakes.services.clock = lambda: 1_763_608_500.0 + 3600
    again = run(fakes, event, "invocation-2")
    assert again["decision"] == "duplicate"
    assert again["execution"]["name"] == first["execution"]["name"]
    assert again["execution"]["input"] == first["execution"]["input"]


def test_a_non_compliant_check_with_no_resources_is_listed_not_called_compliant() -> None:
    event = load_event("compliant")
    message = sns_message(event)
    message["auditDetails"][0]["checkRunStatus"] = "COMPLETED_NON_COMPLIANT"
    outcome = run(make_fakes(), with_message(event, message))
    assert outcome["decision"] == "no-action"
    assert outcome["skipped"] == {
        message["auditDetails"][0]["checkName"]: "no-resources: reported non-compliant with 0 resources"
    }
    assert not outcome["reason"].startswith("compliant")


def test_an_odd_check_name_is_no_rule_for_that_check_only() -> None:
    event = load_event("scheduled-non-compliant")
    message = sns_message(event)
    message["auditDetails"].append(
        {
            "checkName": "NEW CHECK (preview)",
            "checkRunStatus": "COMPLETED_NON_COMPLIANT",
            "nonCompliantResourcesCount": 4,
            "totalResourcesCount": 9,
        }
    )
    outcome = run(make_fakes(), with_message(event, message))
    assert outcome["decision"] == "remediate"
    assert outcome["skipped"] == {"NEW CHECK (preview)": "no-rule: unknown check"}


def test_legacy_documentation_names_are_sent_to_the_api_under_their_api_names() -> None:
    event = load_event("compliant")
    message = sns_message(event)
    message["auditDetails"] = [
        {
            "checkName": "REVOKED_DEVICE_CERT_CHECK",
            "checkRunStatus": "COMPLETED_NON_COMPLIANT",
            "nonCompliantResourcesCount": 2,
            "totalResourcesCount": 9,
        }
    ]
    [task] = run(make_fakes(), with_message(event, message))["mitigationTasks"]
    assert list(task["auditCheckToActionsMapping"]) == ["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]


def test_a_lone_surrogate_in_a_forged_message_is_rejected_not_raised() -> None:
    event = load_event("scheduled-non-compliant")
    event["Records"][0]["Sns"]["Message"] = '{"findingId": "\ud800"}'
    fakes = make_fakes()
    outcome = run(fakes, event)
    assert outcome["decision"] == "rejected"
    assert outcome["reason"].startswith("malformed-json")
    assert len(fakes.quarantine.kept) == 1
