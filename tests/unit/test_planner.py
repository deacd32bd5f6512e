"""The planner: minimal, deterministic, capped and safe by default (D29-D33, C24)."""

import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audit_remediator.checks import KNOWN_CHECKS
from audit_remediator.models.notifications import AuditCompletionNotification, FindingNotification
from audit_remediator.models.plan import MAX_FINDING_IDS_PER_TASK, AuditFilterTarget, FindingIdsTarget
from audit_remediator.planner import (
    HANDLED_BY_FINDINGS,
    PlanSettings,
    covered_checks,
    finding_rule,
    plan_audit,
    plan_finding_window,
    window_batches,
)
from audit_remediator.rules import load_rules, parse_rules
from tests.conftest import load_event, sns_message
from tests.unit.test_rules import RULES_FILE

ENFORCE = PlanSettings(remediation_mode="Enforce", action_name_prefix="stack-")
DRY_RUN = PlanSettings(remediation_mode="DryRun", action_name_prefix="stack-")
TASK_ID = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOKEN = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def audit(
    details: list[tuple[str, str, int]],
    task_id: str = "9a7b3c2d1e0f4a5b6c7d8e9f0a1b2c3d",
    status: str = "COMPLETED",
) -> AuditCompletionNotification:
    return AuditCompletionNotification.model_validate(
        {
            "accountId": "123456789012",
            "taskId": task_id,
            "taskStatus": status,
            "taskType": "ON_DEMAND_AUDIT_TASK",
            "failedChecksCount": 0,
            "canceledChecksCount": 0,
            "nonCompliantChecksCount": 0,
            "compliantChecksCount": 0,
            "totalChecksCount": len(details),
            "taskStartTime": 1763608364191,
            "auditDetails": [
                {
                    "checkName": n,
                    "checkRunStatus": s,
                    "nonCompliantResourcesCount": c,
                    "totalResourcesCount": max(c, 1),
                }
                for n, s, c in details
            ],
        }
    )


def test_an_audit_whose_checks_each_have_one_action_list_gets_exactly_one_enforce_task() -> None:
    # Given the workshop audit plus two more enforce checks with different action lists
    notification = audit(
        [
            ("DEVICE_CERTIFICATE_SHARED_CHECK", "COMPLETED_NON_COMPLIANT", 1),
            ("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1),
            ("REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK", "COMPLETED_NON_COMPLIANT", 7),
            ("CONFLICTING_CLIENT_IDS_CHECK", "COMPLETED_NON_COMPLIANT", 2),
            ("IOT_POLICY_OVERLY_PERMISSIVE_CHECK", "COMPLETED_NON_COMPLIANT", 1),
        ]
    )
    # When it is planned
    plan = plan_audit(notification, load_rules(), ENFORCE)
    # Then one enforce task covers the four enforce checks, and the approve rule is planned apart
    enforce = [task for task in plan.tasks if task.mode == "enforce"]
    assert len(enforce) == 1
    assert enforce[0].audit_check_to_actions_mapping == {
        "CONFLICTING_CLIENT_IDS_CHECK": ["stack-PublishFindingToReportsAction"],
        "DEVICE_CERTIFICATE_SHARED_CHECK": [
            "stack-QuarantineThingsAction",
            "stack-DeactivateDeviceCertificateAction",
        ],
        "LOGGING_DISABLED_CHECK": ["stack-EnableErrorLoggingAction"],
        "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": ["stack-DeactivateDeviceCertificateAction"],
    }
    assert enforce[0].target.model_dump(by_alias=True)["auditTaskId"] == notification.task_id
    assert enforce[0].affected_resources == 11
    assert [(task.checks, task.approval) for task in plan.tasks if task.mode == "approve"] == [
        (["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"], None)
    ]


def test_the_kill_switch_travels_beside_the_plan_and_keeps_each_rules_own_mode() -> None:
    # D33: a dry run plans the tasks Enforce would start; the workflow refuses to start them
    notification = audit([("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1)])
    plan = plan_audit(notification, load_rules(), DRY_RUN)
    assert [task.mode for task in plan.tasks] == ["enforce"]
    assert plan.remediation_mode == "DryRun"


def test_checks_handled_by_finding_windows_are_left_out_and_listed() -> None:
    details = [
        ("DEVICE_CERTIFICATE_SHARED_CHECK", "COMPLETED_NON_COMPLIANT", 40),
        ("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1),
        ("REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK", "COMPLETED_NON_COMPLIANT", 2),
    ]
    handled = frozenset({"DEVICE_CERTIFICATE_SHARED_CHECK", "LOGGING_DISABLED_CHECK"})
    plan = plan_audit(audit(details), load_rules(), ENFORCE, handled)
    assert [task.checks for task in plan.tasks] == [["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]]
    assert plan.capped == []
    assert plan.skipped == dict.fromkeys(handled, HANDLED_BY_FINDINGS)
    assert covered_checks(plan) == ["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]


@pytest.mark.parametrize("status", ["FAILED", "CANCELED"])
def test_an_incomplete_audit_plans_nothing(status: str) -> None:
    # B16: no mitigation from a partial audit
    plan = plan_audit(
        audit([("DEVICE_CERTIFICATE_SHARED_CHECK", "COMPLETED_NON_COMPLIANT", 2)], status=status),
        load_rules(),
        ENFORCE,
    )
    assert plan.tasks == []
    assert plan.skipped == {"DEVICE_CERTIFICATE_SHARED_CHECK": f"audit-incomplete: audit task {status}"}


def test_a_failed_check_is_listed_and_not_remediated_while_the_others_are() -> None:
    notification = AuditCompletionNotification.model_validate(
        sns_message(load_event("check-insufficient-permissions"))
    )
    plan = plan_audit(notification, load_rules(), ENFORCE)
    assert plan.skipped == {
        "LOGGING_DISABLED_CHECK": "check-not-completed: FAILED (INSUFFICIENT_PERMISSIONS)"
    }
    assert [task.checks for task in plan.tasks] == [["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]]


def test_unknown_checks_get_no_action_and_are_listed() -> None:
    plan = plan_audit(audit([("SOME_FUTURE_CHECK", "COMPLETED_NON_COMPLIANT", 4)]), load_rules(), ENFORCE)
    assert plan.tasks == []
    assert plan.skipped == {"SOME_FUTURE_CHECK": "no-rule: unknown check"}


@pytest.mark.parametrize(("count", "capped"), [(25, False), (26, True)])
def test_a_group_over_its_cap_goes_whole_to_approval(count: int, capped: bool) -> None:
    plan = plan_audit(
        audit([("DEVICE_CERTIFICATE_SHARED_CHECK", "COMPLETED_NON_COMPLIANT", count)]), load_rules(), ENFORCE
    )
    [task] = plan.tasks
    assert plan.capped == []
    assert task.mode == ("approve" if capped else "enforce")
    assert isinstance(task.target, AuditFilterTarget)
    if capped:
        assert task.approval is not None
        assert task.approval.reason == "over its cap: 26 affected resources > maxResources 25"
        assert task.approval.findings == 26
    else:
        assert task.approval is None


def test_a_check_needing_two_action_lists_gets_two_tasks_and_the_others_share_them() -> None:
    document: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    document["rules"].append(
        {
            "check": "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            "reasonCodes": ["CERTIFICATE_PAST_EXPIRATION"],
            "actions": ["DeactivateDeviceCertificateAction"],
            "mode": "enforce",
        }
    )
    document["rules"].append(
        {
            "check": "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            "reasonCodes": ["CERTIFICATE_APPROACHING_EXPIRATION"],
            "actions": ["PublishFindingToReportsAction"],
            "mode": "enforce",
        }
    )
    rules = parse_rules(yaml.safe_dump(document))
    notification = audit(
        [
            ("DEVICE_CERTIFICATE_EXPIRING_CHECK", "COMPLETED_NON_COMPLIANT", 3),
            ("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1),
        ]
    )
    plan = plan_audit(notification, rules, ENFORCE)
    assert len(plan.tasks) == 2
    filters = [task.target.model_dump(by_alias=True)["auditCheckToReasonCodeFilter"] for task in plan.tasks]
    codes = sorted(code for f in filters for code in f["DEVICE_CERTIFICATE_EXPIRING_CHECK"])
    assert codes == ["CERTIFICATE_APPROACHING_EXPIRATION", "CERTIFICATE_PAST_EXPIRATION"]
    assert sum("LOGGING_DISABLED_CHECK" in f for f in filters) == 1


statuses = st.sampled_from(["COMPLETED_COMPLIANT", "COMPLETED_NON_COMPLIANT", "FAILED", "CANCELED"])
details_strategy = st.lists(
    st.tuples(
        st.sampled_from([*sorted(KNOWN_CHECKS), "NEW_CHECK_A", "NEW_CHECK_B"]), statuses, st.integers(0, 300)
    ),
    unique_by=lambda item: item[0],
    max_size=19,
)
audit_ids = st.from_regex(r"[a-zA-Z0-9-]{1,40}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(details=details_strategy, task_id=audit_ids, enforce=st.booleans(), data=st.data())
def test_plans_are_minimal_deterministic_and_within_api_limits(
    details: list[tuple[str, str, int]], task_id: str, enforce: bool, data: st.DataObject
) -> None:
    rules = load_rules()
    mode_settings = ENFORCE if enforce else DRY_RUN
    plan = plan_audit(audit(details, task_id=task_id), rules, mode_settings)
    # Determinism: the same audit in any order of auditDetails gives the same plan
    shuffled = data.draw(st.permutations(details))
    again = plan_audit(audit(list(shuffled), task_id=task_id), rules, mode_settings)
    assert {t.task_id: t for t in again.tasks} == {t.task_id: t for t in plan.tasks}
    # Minimality: with the default table every check has one action list, so at most one task per mode,
    # besides one task of its own for each check over its cap (it waits for approval, whole)
    assert sum(t.mode == "enforce" for t in plan.tasks) <= 1
    assert sum(t.mode == "approve" and t.approval is None for t in plan.tasks) <= 1
    assert sum(t.mode == "dry-run" for t in plan.tasks) <= 1
    assert all(len(t.checks) == 1 for t in plan.tasks if t.approval is not None)
    # Exactness: every remediable check is in exactly one task, nothing else is; over its cap it waits
    remediable = {
        name
        for name, status, count in details
        if status == "COMPLETED_NON_COMPLIANT" and count > 0 and rules.rules_for(name)
    }
    planned = [check for task in plan.tasks for check in task.checks]
    assert sorted(planned) == sorted(remediable)
    for task in plan.tasks:
        assert TASK_ID.match(task.task_id)
        assert TOKEN.match(task.client_request_token)
        assert set(task.audit_check_to_actions_mapping) == set(task.checks)


def test_ids_depend_on_the_audit_and_the_rules_version() -> None:
    details = [("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1)]
    rules = load_rules()
    first = plan_audit(audit(details), rules, ENFORCE).tasks[0]
    other_audit = plan_audit(audit(details, task_id="0" * 32), rules, ENFORCE).tasks[0]
    document: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    document["rules"][1]["maxResources"] = 30
    other_rules = plan_audit(audit(details), parse_rules(yaml.safe_dump(document)), ENFORCE).tasks[0]
    assert len({first.task_id, other_audit.task_id, other_rules.task_id}) == 3
    assert (
        len({first.client_request_token, other_audit.client_request_token, other_rules.client_request_token})
        == 3
    )


def test_the_longest_audit_task_id_still_gives_valid_ids() -> None:
    plan = plan_audit(
        audit([("LOGGING_DISABLED_CHECK", "COMPLETED_NON_COMPLIANT", 1)], task_id="f" * 40),
        load_rules(),
        ENFORCE,
    )
    assert len(plan.tasks[0].task_id) <= 128


def finding(finding_id: str = "f1", **changes: Any) -> FindingNotification:
    message = sns_message(load_event("finding-shared-certificate"))
    message.update(findingId=finding_id, **changes)
    return FindingNotification.model_validate(message)


def test_findings_of_one_window_share_one_execution_and_300_become_12_tasks() -> None:
    # C24: more than 25 findings are split into batches of at most 25 with deterministic ids
    rules = load_rules()
    plans = []
    for index in range(300):
        notification = finding(f"finding-{index:03d}")
        rule, _ = finding_rule(notification, rules)
        assert rule is not None
        plans.append(
            plan_finding_window(
                notification, rule, rules, ENFORCE, "123456789012", 1_763_608_500.0 + index % 30
            )
        )
    assert len({name for name, _ in plans}) == 1
    assert len({plan.model_dump_json() for _, plan in plans}) == 1
    batches = window_batches(plans[0][1], [f"finding-{index:03d}" for index in reversed(range(300))])
    assert len(batches) == 12
    assert all(len(batch.target.model_dump(by_alias=True)["findingIds"]) <= 25 for batch in batches)
    assert batches == window_batches(plans[0][1], [f"finding-{index:03d}" for index in range(300)])


def test_findings_in_the_next_window_get_another_execution() -> None:
    rules = load_rules()
    notification = finding()
    rule, _ = finding_rule(notification, rules)
    assert rule is not None
    name_a, plan_a = plan_finding_window(notification, rule, rules, ENFORCE, "123456789012", 1_763_608_499.0)
    name_b, _ = plan_finding_window(notification, rule, rules, ENFORCE, "123456789012", 1_763_608_499.0 + 300)
    assert name_a != name_b
    assert plan_a.window.closes_at > 1_763_608_499


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"isSuppressed": True}, "suppressed"),
        ({"checkName": "SOME_FUTURE_CHECK"}, "no-rule: unknown check"),
        (
            {
                "checkName": "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
                "reasonForNonComplianceCode": "SOMETHING_NEW",
            },
            "not covered",
        ),
    ],
)
def test_findings_without_a_rule_get_no_action(changes: dict[str, Any], reason: str) -> None:
    rule, why = finding_rule(finding(**changes), load_rules())
    assert rule is None
    assert reason in why


SPLITTABLE = sorted(name for name, info in KNOWN_CHECKS.items() if len(info.reason_codes) >= 2)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_number_of_tasks_is_the_largest_number_of_action_lists_one_check_needs(
    data: st.DataObject,
) -> None:
    # Given a table where some checks split their reason codes over rules with different action lists
    document: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    split = data.draw(st.lists(st.sampled_from(SPLITTABLE), unique=True, max_size=len(SPLITTABLE)))
    document["rules"] = [rule for rule in document["rules"] if rule["check"] not in split]
    distinct: dict[str, int] = {}
    for check in split:
        info = KNOWN_CHECKS[check]
        codes = list(info.reason_codes)
        actions = sorted(
            name
            for name, action in document["actions"].items()
            if action["type"] in {a.value for a in info.actions}
        )
        cut = data.draw(st.integers(1, len(codes) - 1))
        lists = [
            data.draw(st.lists(st.sampled_from(actions), min_size=1, max_size=2, unique=True))
            for _ in range(2)
        ]
        for part, chosen in zip((codes[:cut], codes[cut:]), lists, strict=True):
            document["rules"].append(
                {"check": check, "reasonCodes": part, "actions": chosen, "mode": "enforce"}
            )
        distinct[check] = len({tuple(chosen) for chosen in lists})
    rules = parse_rules(yaml.safe_dump(document))
    details = [(name, "COMPLETED_NON_COMPLIANT", 1) for name in sorted(KNOWN_CHECKS)]
    # When an audit reports every check non-compliant
    plan = plan_audit(audit(details), rules, ENFORCE)
    # Then the enforce tasks number the most action lists any one check needs (1 when none is split)
    enforce = [task for task in plan.tasks if task.mode == "enforce"]
    assert len(enforce) == max([1, *distinct.values()])
    # And every (check, reason code) a rule covers is in exactly one task's filter
    planned = [
        (check, code)
        for task in plan.tasks
        for check, codes in task.target.model_dump(by_alias=True)["auditCheckToReasonCodeFilter"].items()
        for code in codes
    ]
    expected = [
        (check, code)
        for check, resolved in rules.by_check.items()
        for rule in resolved
        for code in rule.reason_codes
    ]
    assert sorted(planned) == sorted(expected)


rule_changes = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["enforce", "dry-run"]),
        "maxResources": st.one_of(st.none(), st.integers(1, 50)),
    }
)


def _rules_with(changes: list[dict[str, Any]]) -> Any:
    document: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    document["default"]["mode"] = changes[-1]["mode"]
    for rule, change in zip(document["rules"], changes, strict=False):
        rule["mode"] = change["mode"]
        if change["maxResources"] is None:
            rule.pop("maxResources", None)
        else:
            rule["maxResources"] = change["maxResources"]
    return parse_rules(yaml.safe_dump(document))


@settings(max_examples=150, deadline=None)
@given(
    details=details_strategy,
    task_id=audit_ids,
    changes=st.lists(rule_changes, min_size=9, max_size=9),
    finding_check=st.sampled_from(sorted(KNOWN_CHECKS)),
    now=st.floats(1_700_000_000, 1_900_000_000),
)
def test_a_dry_run_plans_exactly_what_enforce_would_run(
    details: list[tuple[str, str, int]],
    task_id: str,
    changes: list[dict[str, Any]],
    finding_check: str,
    now: float,
) -> None:
    # Given any audit, and a rules table whose rules have any modes and caps
    rules = _rules_with(changes)
    # When it is planned under both stack modes
    enforce = plan_audit(audit(details, task_id=task_id), rules, ENFORCE)
    dry_run = plan_audit(audit(details, task_id=task_id), rules, DRY_RUN)
    # Then the plans differ only in the stack mode they carry: same groups, ids, tokens and rule modes
    assert (enforce.remediation_mode, dry_run.remediation_mode) == ("Enforce", "DryRun")
    assert dry_run.model_dump(exclude={"remediation_mode"}) == enforce.model_dump(
        exclude={"remediation_mode"}
    )
    # And so do a finding's window, its execution name and its tasks
    for rule in rules.rules_for(finding_check):
        notification = finding(
            checkName=finding_check, reasonForNonComplianceCode=sorted(rule.reason_codes)[0]
        )
        name_e, window_e = plan_finding_window(notification, rule, rules, ENFORCE, "123456789012", now)
        name_d, window_d = plan_finding_window(notification, rule, rules, DRY_RUN, "123456789012", now)
        assert name_d == name_e
        assert window_d.remediation_mode == "DryRun"
        assert window_d.model_dump(exclude={"remediation_mode"}) == window_e.model_dump(
            exclude={"remediation_mode"}
        )
        assert window_batches(window_d, ["f1"]) == window_batches(window_e, ["f1"])
        assert window_d.mode == rule.mode


def test_a_finding_ids_target_over_the_api_limit_is_refused_by_our_own_model() -> None:
    # botocore does not enforce StartAuditMitigationActionsTask's 25 finding ids; our model must
    ids = [f"finding-{index:02d}" for index in range(MAX_FINDING_IDS_PER_TASK + 1)]
    assert FindingIdsTarget(finding_ids=ids[:-1]).finding_ids == ids[:-1]
    with pytest.raises(ValidationError, match="at most 25 items"):
        FindingIdsTarget(finding_ids=ids)


def test_a_window_carries_the_whole_check_task_it_becomes_over_its_cap() -> None:
    # A window over its cap is never started in part: it becomes the rule's whole check of the audit
    rules = load_rules()
    notification = finding()
    rule, _ = finding_rule(notification, rules)
    assert rule is not None
    _, plan = plan_finding_window(notification, rule, rules, ENFORCE, "123456789012", 1_763_608_499.0)

    task = plan.over_cap_task
    assert task.mode == ("dry-run" if rule.mode == "dry-run" else "approve")
    assert task.target.model_dump(by_alias=True) == {
        "auditTaskId": notification.task_id,
        "auditCheckToReasonCodeFilter": {plan.check: sorted(rule.reason_codes)},
    }
    assert task.audit_check_to_actions_mapping == plan.audit_check_to_actions_mapping
    assert TASK_ID.match(task.task_id)
    assert not task.task_id.startswith(plan.task_id_prefix)
