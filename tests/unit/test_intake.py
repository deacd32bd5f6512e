"""The handler's logic with in-memory collaborators: decisions, provenance and duplicates."""

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from audit_remediator.errors import RulesError
from audit_remediator.intake import handle_event, outcome_document
from audit_remediator.planner import HANDLED_BY_FINDINGS
from audit_remediator.rules import RuleSet, load_rules
from tests.conftest import AUDIT_EVENTS_TOPIC_ARN, load_event, readme_decisions, sns_message, with_message
from tests.unit.fakes import Fakes, RemediationTable, make_fakes

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


pytestmark = pytest.mark.usefixtures("offline_aws")


def run(fakes: Fakes, event: Any) -> dict[str, Any]:
    return outcome_document(handle_event(event, fakes.services))


def test_every_sample_event_has_a_kind(event_names: list[str]) -> None:
    assert sorted(KINDS) == event_names


@pytest.mark.parametrize(("name", "kind"), sorted(KINDS.items()))
def test_sample_events_get_the_documented_decision(name: str, kind: str) -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event(name))
    assert (outcome["decision"], outcome["kind"]) == (readme_decisions()[f"{name}.json"], kind)
    started = bool(fakes.executions.calls)
    assert started == (outcome["execution"] is not None)
    assert bool(fakes.quarantine.kept) == (outcome["decision"] == "rejected")


def test_a_remediate_decision_starts_the_plan_it_reports() -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event("scheduled-non-compliant"))
    name = outcome["execution"]["name"]
    assert name == f"audit-9a7b3c2d1e0f4a5b6c7d8e9f0a1b2c3d-{outcome['rulesVersion']}"
    [(started, input_json)] = fakes.executions.calls
    assert (started, json.loads(input_json)) == (name, outcome["execution"]["input"])
    assert outcome["mitigationTasks"] == outcome["execution"]["input"]["tasks"]


def test_no_action_decisions_are_recorded() -> None:
    # B14: an unknown check means no action, and a decision record is written
    fakes = make_fakes()
    outcome = run(fakes, load_event("unknown-check"))
    [(audit_task_id, version, decision)] = fakes.history.decisions
    assert audit_task_id == "ddddeeeeffff00001111222233334444"
    assert version == outcome["rulesVersion"]
    assert decision["skipped"] == {"DEVICE_CERTIFICATE_ALGORITHM_DEPRECATED_CHECK": "no-rule: unknown check"}


def test_an_over_cap_audit_plans_the_whole_group_for_approval_never_a_part() -> None:
    fakes = make_fakes()
    outcome = run(fakes, load_event("over-cap"))
    plan = outcome["execution"]["input"]
    assert outcome["decision"] == "remediate"
    assert plan["capped"] == []
    [task] = plan["tasks"]
    assert task["mode"] == "approve"
    assert task["approval"] == {
        "reason": "over its cap: 40 affected resources > maxResources 25",
        "findings": 40,
        "affectedDevices": None,
    }
    assert task["target"]["auditCheckToReasonCodeFilter"] == {
        "DEVICE_CERTIFICATE_SHARED_CHECK": ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"]
    }
    assert task["auditCheckToActionsMapping"] == {
        "DEVICE_CERTIFICATE_SHARED_CHECK": [
            "iot-audit-remediator-QuarantineThingsAction",
            "iot-audit-remediator-DeactivateDeviceCertificateAction",
        ]
    }


@pytest.mark.parametrize(
    "name", ["scheduled-non-compliant", "finding-iot-policy", "finding-shared-certificate"]
)
def test_dry_run_mode_plans_exactly_what_enforce_would_start(name: str) -> None:
    # D33: the whole pipeline runs with the rules' own modes; only the stack mode beside the plan differs
    dry_run = run(make_fakes(REMEDIATION_MODE="DryRun"), load_event(name))
    enforce = run(make_fakes(REMEDIATION_MODE="Enforce"), load_event(name))
    assert dry_run["decision"] == enforce["decision"] == "remediate"
    assert dry_run["execution"]["input"]["remediationMode"] == "DryRun"
    assert dry_run["execution"]["name"] == enforce["execution"]["name"]
    assert dry_run["mitigationTasks"] == enforce["mitigationTasks"]
    del dry_run["execution"]["input"]["remediationMode"], enforce["execution"]["input"]["remediationMode"]
    assert dry_run["execution"]["input"] == enforce["execution"]["input"]


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
    decisions = [run(fakes, event)["decision"] for n in range(3)]
    assert decisions == ["remediate", "duplicate", "duplicate"]
    assert len(fakes.executions.calls) == 1


def test_two_messages_about_one_audit_start_one_execution() -> None:
    # A2: another MessageId (second subscription, re-publish) carries the same audit task id
    fakes = make_fakes()
    first = load_event("scheduled-non-compliant")
    second = json.loads(json.dumps(first))
    second["Records"][0]["Sns"]["MessageId"] = "00000000-0000-4000-8000-000000000999"
    assert run(fakes, first)["decision"] == "remediate"
    assert run(fakes, second)["decision"] == "duplicate"
    assert len(fakes.executions.calls) == 1


def test_a_duplicate_after_the_idempotency_record_expired_starts_nothing_new() -> None:
    # A3: the record is gone; the deterministic execution name still holds
    fakes = make_fakes()
    event = load_event("scheduled-non-compliant")
    first_name = run(fakes, event)["execution"]["name"]
    fakes.once.expire()
    # The same name with the same input: Step Functions returns the running execution, or refuses a
    # name already used by a closed one (the adapter reports both as an earlier run)
    fakes.executions.existing.add(first_name)
    assert run(fakes, event)["decision"] == "duplicate"
    [first, again] = fakes.executions.calls
    assert again == first


def test_key_order_and_whitespace_do_not_change_the_idempotency_key() -> None:
    # A10
    fakes = make_fakes()
    event = load_event("scheduled-non-compliant")
    message = sns_message(event)
    reordered = json.dumps(dict(reversed(list(message.items()))), indent=4)
    run(fakes, event)
    run(fakes, with_message(event, reordered))
    assert len(fakes.once.items()) == 1
    assert len(fakes.executions.calls) == 1


def test_a_new_rules_version_plans_the_audit_again() -> None:
    # Security property 9: the rules version is part of the idempotency key and the execution name,
    # so a delivery under a changed rules table is not mistaken for one the old table handled
    rules = load_rules()
    changed = replace(rules, version="0123456789ab")
    tables = iter([rules, changed])
    fakes = make_fakes(rules=lambda: next(tables))
    event = load_event("scheduled-non-compliant")
    first, second = run(fakes, event), run(fakes, event)
    assert (first["decision"], second["decision"]) == ("remediate", "remediate")
    assert second["execution"]["name"] == f"audit-9a7b3c2d1e0f4a5b6c7d8e9f0a1b2c3d-{changed.version}"
    assert fakes.executions.names == [first["execution"]["name"], second["execution"]["name"]]
    assert len(fakes.once.items()) == 2


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
    fakes.once.expire()
    second = run(fakes, event)
    assert (first["decision"], second["decision"]) == ("remediate", "duplicate")
    assert [len(ids) for ids in fakes.history.inbox.values()] == [1]
    [first_call, second_call] = fakes.executions.calls
    assert second_call == first_call


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
    outcome = run(fakes, event)
    assert outcome["decision"] == "duplicate"
    assert fakes.executions.names == [outcome["execution"]["name"]]


def test_findings_of_one_window_share_its_execution() -> None:
    fakes = make_fakes()
    event = load_event("finding-shared-certificate")
    outcomes = []
    for index in range(5):
        message = sns_message(event)
        message["findingId"] = f"finding-{index}"
        outcomes.append(run(fakes, with_message(event, message)))
    assert len({outcome["execution"]["name"] for outcome in outcomes}) == 1
    # Each is its finding's first delivery, though only the first started the window's execution
    assert [outcome["decision"] for outcome in outcomes] == ["remediate"] * 5
    assert [sorted(ids) for ids in fakes.history.inbox.values()] == [[f"finding-{i}" for i in range(5)]]


@pytest.fixture
def table() -> Iterator[RemediationTable]:
    with mock_aws():
        yield RemediationTable()


def finding_event(name: str, finding_id: str) -> dict[str, Any]:
    event = load_event(name)
    message = sns_message(event)
    message["findingId"] = finding_id
    return with_message(event, message)


SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
POLICY = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"


def test_a_finding_the_audits_own_execution_covers_starts_nothing(table: RemediationTable) -> None:
    # D34: the audit's execution already remediates every finding of its checks
    fakes = make_fakes(history=table.history)
    audit = run(fakes, load_event("scheduled-non-compliant"))
    outcome = run(fakes, load_event("finding-shared-certificate"))
    assert outcome["decision"] == "duplicate"
    assert audit["execution"]["name"] in outcome["reason"]
    assert fakes.executions.names == [audit["execution"]["name"]]
    assert table.inbox() == {}


def test_an_audit_after_a_finding_of_its_check_leaves_that_check_to_the_finding_window(
    table: RemediationTable,
) -> None:
    # A per-finding message queued first: the audit's filter task would act on the same finding again
    fakes = make_fakes(history=table.history)
    finding = run(fakes, load_event("finding-shared-certificate"))
    audit = run(fakes, load_event("scheduled-non-compliant"))
    assert (finding["decision"], audit["decision"]) == ("remediate", "remediate")
    assert SHARED not in {check for task in audit["mitigationTasks"] for check in task["checks"]}
    assert audit["skipped"][SHARED] == HANDLED_BY_FINDINGS
    assert {check for task in audit["mitigationTasks"] for check in task["checks"]} == {
        "LOGGING_DISABLED_CHECK",
        POLICY,
    }
    assert table.owners()[SHARED] == "finding-windows"


def test_a_finding_claimed_while_the_audit_was_being_planned_stays_with_its_window(
    table: RemediationTable,
) -> None:
    # The audit planned its checks, then the finding's claim committed before the audit's own claim
    fakes = make_fakes(history=table.history)
    finding_delivered: list[dict[str, Any]] = []

    class FindingFirst:
        def __getattr__(self, name: str) -> Any:
            return getattr(table.history, name)

        def claim_checks(self, *args: Any) -> dict[str, str]:
            finding_delivered.append(run(fakes, load_event("finding-shared-certificate")))
            return table.history.claim_checks(*args)

    audit = run(make_fakes(history=FindingFirst()), load_event("scheduled-non-compliant"))
    assert [outcome["decision"] for outcome in finding_delivered] == ["remediate"]
    assert audit["skipped"][SHARED] == HANDLED_BY_FINDINGS
    assert SHARED not in {check for task in audit["mitigationTasks"] for check in task["checks"]}


def test_an_audit_whose_checks_all_went_to_finding_windows_starts_nothing(table: RemediationTable) -> None:
    fakes = make_fakes(history=table.history)
    event = load_event("check-insufficient-permissions")
    check = next(
        detail["checkName"]
        for detail in sns_message(event)["auditDetails"]
        if detail["checkRunStatus"] == "COMPLETED_NON_COMPLIANT"
    )
    message = sns_message(load_event("finding-shared-certificate"))
    message.update(
        taskId=sns_message(event)["taskId"],
        checkName=check,
        reasonForNonComplianceCode="CERTIFICATE_REVOKED_BY_ISSUER",
    )
    assert (
        run(fakes, with_message(load_event("finding-shared-certificate"), message))["decision"] == "remediate"
    )
    outcome = run(fakes, event)
    assert (outcome["decision"], outcome["execution"]) == ("no-action", None)
    assert outcome["skipped"][check] == HANDLED_BY_FINDINGS
    assert len(fakes.executions.calls) == 1


def test_a_redelivered_audit_after_a_check_went_to_a_finding_window_starts_the_same_input(
    table: RemediationTable,
) -> None:
    # Step Functions refuses a running execution's name with another input (ExecutionAlreadyExists),
    # so a re-delivery must plan exactly what the first delivery started
    fakes = make_fakes(history=table.history)
    event = load_event("scheduled-non-compliant")
    run(fakes, load_event("finding-shared-certificate"))
    first = run(fakes, event)
    fakes.once.expire()
    fakes.executions.existing.add(first["execution"]["name"])
    run(fakes, finding_event("finding-iot-policy", "a-later-finding"))
    again = run(fakes, event)
    assert (first["decision"], again["decision"]) == ("remediate", "duplicate")
    audit_starts = [call for call in fakes.executions.calls if call[0] == first["execution"]["name"]]
    assert len(audit_starts) == 2
    assert audit_starts[1] == audit_starts[0]
    assert again["mitigationTasks"] == first["mitigationTasks"]


DELIVERIES = [
    ("audit", "scheduled-non-compliant", ""),
    ("finding", "finding-shared-certificate", "shared-1"),
    ("finding", "finding-shared-certificate", "shared-2"),
    ("finding", "finding-iot-policy", "policy-1"),
    ("finding", "finding-shared-certificate", "shared-1"),
]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(order=st.permutations(range(len(DELIVERIES))), expired=st.booleans())
def test_each_finding_gets_one_path_whatever_the_order_of_deliveries(order: list[int], expired: bool) -> None:
    # Given an audit notification and per-finding messages of its checks (one re-delivered), in any order
    with mock_aws():
        table = RemediationTable()
        fakes = make_fakes(history=table.history)
        for index in order:
            if expired:
                fakes.once.expire()
            kind, name, finding_id = DELIVERIES[index]
            event = load_event(name) if kind == "audit" else finding_event(name, finding_id)
            run(fakes, event)
        # Then every finding is either in a finding window's inbox or under the audit's filter, never both
        audit_inputs = {
            json.dumps(json.loads(i), sort_keys=True)
            for n, i in fakes.executions.calls
            if n.startswith("audit-")
        }
        assert len(audit_inputs) <= 1
        audit_checks = {
            check for plan in audit_inputs for task in json.loads(plan)["tasks"] for check in task["checks"]
        }
        queued = [finding for ids in table.inbox().values() for finding in ids]
        assert len(queued) == len(set(queued))
        checks = {"shared-1": SHARED, "shared-2": SHARED, "policy-1": POLICY}
        for finding_id, check in checks.items():
            assert (finding_id in queued) + (check in audit_checks) == 1, (finding_id, order)


def test_a_finding_of_a_check_the_audit_did_not_cover_is_still_queued() -> None:
    fakes = make_fakes()
    run(fakes, load_event("check-insufficient-permissions"))  # covers REVOKED_DEVICE_... only
    outcome = run(fakes, load_event("finding-shared-certificate"))
    assert outcome["decision"] == "remediate"


def test_a_redelivery_in_a_later_window_reports_the_execution_it_was_queued_in() -> None:
    event = load_event("finding-shared-certificate")
    fakes = make_fakes(now=1_763_608_500.0)
    first = run(fakes, event)
    fakes.once.expire()
    fakes.services.clock = lambda: 1_763_608_500.0 + 3600
    again = run(fakes, event)
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
