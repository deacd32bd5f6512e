"""IAM's evaluation of a request, row by row from the IAM user guide's documented logic (the pages named in
`sandbox/iam/evaluation.py` and `sandbox/iam/conditions.py`): each row a policy, a request and AWS's answer
(None for allowed, else the reason AWS's AccessDenied message gives)."""

from typing import Any

import pytest

from sandbox.iam.evaluation import Caller, Decision, Policy, Request, UnsupportedPolicyError, evaluate

ACCOUNT, OTHER_ACCOUNT = "111122223333", "444455556666"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app/AuditEventsRole"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/AuditEventsRole/intake"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"
PARTNER_ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/Partner"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = Caller(SESSION_ARN, ACCOUNT, role_arn=ROLE_ARN)
PARTNER = Caller(f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Partner/s", OTHER_ACCOUNT, PARTNER_ROLE)
EVENTS = Caller("events.amazonaws.com", None, service="events.amazonaws.com")
IOT = Caller("iot.amazonaws.com", None, service="iot.amazonaws.com")
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:reports"
OTHER_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:other"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/remediation-failed"
TASK = f"arn:aws:iot:us-east-1:{ACCOUNT}:mitigationaction/quarantine"
SRC_ARN, SRC_ACCOUNT, TAGS = "aws:SourceArn", "aws:SourceAccount", "aws:TagKeys"
ROLE_P, ROOT_P = {"AWS": ROLE_ARN}, {"AWS": ROOT}
COLONS = f"{TOPIC}:a:b"


# The phrases of "Troubleshoot access denied error messages"
def no_identity(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


NO_IDENTITY = no_identity("sns:Publish")
NO_RESOURCE = "because no resource-based policy allows the sns:Publish action"
IDENTITY_DENY = "with an explicit deny in an identity-based policy"
RESOURCE_DENY = "with an explicit deny in a resource-based policy"


def policy(*statements: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def grant(principal: Any, action: Any, effect: str = "Allow", **more: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": "*", **more}


def rows(*table: tuple[Any, ...]) -> list[Any]:
    """pytest params from (id, *values) tuples."""
    return [pytest.param(*values, id=name) for name, *values in table]


def assert_decision(decision: Decision, expected: str | None) -> None:
    if expected is None:
        assert decision.allowed, decision.reason
    else:
        assert (decision.allowed, decision.reason) == (False, expected)


# Identity-based policies. Action/NotAction: not case-sensitive; Resource/NotResource: case-sensitive, the whole
# ARN; `*` and `?` the only wildcards; an explicit Deny wins (NotAction, NotResource, evaluation-logic pages).
NOT_IAM = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
ALL_BUT_OTHER_TOPIC = {"Effect": "Allow", "Action": "sns:Publish", "NotResource": [OTHER_TOPIC]}
DENY_BUT_PUBLISH = {"Effect": "Deny", "NotAction": "sns:Publish", "Resource": "*"}
IDENTITY_ROWS = rows(
    ("exact", [allow("sns:Publish", TOPIC)], "sns:Publish", TOPIC, None),
    ("other-action", [allow("sns:Subscribe", TOPIC)], "sns:Publish", TOPIC, NO_IDENTITY),
    ("action-any-case", [allow("SNS:publish", TOPIC)], "sns:Publish", TOPIC, None),
    ("action-service-star", [allow("sns:*", TOPIC)], "sns:Publish", TOPIC, None),
    ("action-prefix-star", [allow("sns:Pub*", TOPIC)], "sns:Publish", TOPIC, None),
    ("action-?-one-char", [allow("sns:Publis?", TOPIC)], "sns:Publish", TOPIC, None),
    ("action-?-not-zero-chars", [allow("sns:Publish?", TOPIC)], "sns:Publish", TOPIC, NO_IDENTITY),
    ("bracket-is-literal", [allow("sn[s]:Publish", TOPIC)], "sns:Publish", TOPIC, NO_IDENTITY),
    ("everything", [allow("*")], "sns:Publish", TOPIC, None),
    ("resource-case-sensitive", [allow("sns:Publish", TOPIC.upper())], "sns:Publish", TOPIC, NO_IDENTITY),
    ("resource-stars", [allow("sns:Publish", f"arn:aws:sns:*:{ACCOUNT}:rep*")], "sns:Publish", TOPIC, None),
    ("resource-whole-arn", [allow("sns:Publish", TOPIC[:-1])], "sns:Publish", TOPIC, NO_IDENTITY),
    ("no-resource-type-needs-star", [allow("sns:Publish", "arn:aws:sns:*")], "sns:Publish", "*", NO_IDENTITY),
    ("notaction-allows-the-rest", [NOT_IAM], "sns:Publish", TOPIC, None),
    ("notaction-excludes-any-case", [NOT_IAM], "IAM:PassRole", ROLE_ARN, no_identity("IAM:PassRole")),
    ("notresource-allows-the-rest", [ALL_BUT_OTHER_TOPIC], "sns:Publish", TOPIC, None),
    ("notresource-excludes", [ALL_BUT_OTHER_TOPIC], "sns:Publish", OTHER_TOPIC, NO_IDENTITY),
    ("deny-beats-allow", [allow("sns:*"), deny("sns:Publish")], "sns:Publish", TOPIC, IDENTITY_DENY),
    ("deny-notaction-denies-rest", [allow("*"), DENY_BUT_PUBLISH], "sqs:SendMessage", "*", IDENTITY_DENY),
    ("deny-notaction-spares-listed", [allow("*"), DENY_BUT_PUBLISH], "sns:Publish", TOPIC, None),
    ("deny-elsewhere-no-effect", [deny("sns:*", OTHER_TOPIC), allow("sns:*")], "sns:Publish", TOPIC, None),
)


@pytest.mark.parametrize(("statements", "action", "resource", "expected"), IDENTITY_ROWS)
def test_identity_policy(
    statements: list[dict[str, Any]], action: str, resource: str, expected: str | None
) -> None:
    decision = evaluate(Request(ROLE, action, resource), identity_policies=[policy(*statements)])
    assert_decision(decision, expected)


def test_statement_and_values_may_be_single_and_a_deny_in_another_policy_wins() -> None:
    single = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC},
    }
    request = Request(ROLE, "sns:Publish", TOPIC)
    assert evaluate(request, identity_policies=[single]).allowed
    assert_decision(evaluate(request, identity_policies=[single, policy(deny("sns:*"))]), IDENTITY_DENY)


# Condition operators: (condition, request context, whether it holds). Condition operators page: a missing key
# makes a condition false, but true for an operator requiring the key *not* to match (StringNotEquals,
# StringNotLike, ArnNotLike...); ...IfExists is true on a missing key; Null tests presence. Multiple context
# keys or values page: operators and keys AND, values OR (NOR when negated). Multivalued keys page:
# ForAllValues is true on a missing or empty key, ForAnyValue false. ArnEquals/ArnLike: per component.
STAR_RULE = "arn:aws:events:*:*:rule/*"
CONDITION_ROWS = rows(
    ("StringEquals", {"StringEquals": {SRC_ACCOUNT: ACCOUNT}}, {SRC_ACCOUNT: ACCOUNT}, True),
    ("StringEquals-case-sensitive", {"StringEquals": {"k": "john"}}, {"k": "John"}, False),
    ("StringEquals-missing-false", {"StringEquals": {SRC_ACCOUNT: ACCOUNT}}, {}, False),
    ("StringEquals-values-OR", {"StringEquals": {SRC_ACCOUNT: ["1", ACCOUNT]}}, {SRC_ACCOUNT: ACCOUNT}, True),
    ("key-names-any-case", {"StringEquals": {"AWS:SourceACCOUNT": "1"}}, {"aws:sourceaccount": "1"}, True),
    ("StringNotEquals-differs", {"StringNotEquals": {"k": "a"}}, {"k": "b"}, True),
    ("StringNotEquals-equal", {"StringNotEquals": {SRC_ACCOUNT: ACCOUNT}}, {SRC_ACCOUNT: ACCOUNT}, False),
    ("StringNotEquals-missing-true", {"StringNotEquals": {SRC_ACCOUNT: ACCOUNT}}, {}, True),
    ("StringNotEquals-values-NOR", {"StringNotEquals": {"k": ["x", "v"]}}, {"k": "v"}, False),
    ("IgnoreCase", {"StringEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "JOHN"}, True),
    ("NotEqualsIgnoreCase-equal", {"StringNotEqualsIgnoreCase": {"k": "john"}}, {"k": "John"}, False),
    ("NotEqualsIgnoreCase-missing-true", {"StringNotEqualsIgnoreCase": {"k": "john"}}, {}, True),
    ("StringLike-star", {"StringLike": {SRC_ARN: "arn:aws:events:*:*:rule/rem*"}}, {SRC_ARN: RULE}, True),
    ("StringLike-?", {"StringLike": {"k": "v?"}}, {"k": "v1"}, True),
    ("StringLike-case-sensitive", {"StringLike": {"k": "Prod*"}}, {"k": "production"}, False),
    ("StringLike-missing-false", {"StringLike": {"k": "a*"}}, {}, False),
    ("StringNotLike-match", {"StringNotLike": {"k": "a*"}}, {"k": "abc"}, False),
    ("StringNotLike-no-match", {"StringNotLike": {"k": "a*"}}, {"k": "xyz"}, True),
    ("StringNotLike-missing-true", {"StringNotLike": {"k": "a*"}}, {}, True),
    ("ArnEquals", {"ArnEquals": {SRC_ARN: RULE}}, {SRC_ARN: RULE}, True),
    ("ArnEquals-other-account", {"ArnEquals": {SRC_ARN: RULE}}, {SRC_ARN: RULE.replace(ACCOUNT, "1")}, False),
    ("ArnEquals-wildcards-as-ArnLike", {"ArnEquals": {SRC_ARN: STAR_RULE}}, {SRC_ARN: RULE}, True),
    ("ArnLike-per-component", {"ArnLike": {SRC_ARN: STAR_RULE}}, {SRC_ARN: RULE}, True),
    ("ArnLike-star-stays-in-component", {"ArnLike": {SRC_ARN: "arn:aws:events:*"}}, {SRC_ARN: RULE}, False),
    ("StringLike-same-pattern-spans", {"StringLike": {SRC_ARN: "arn:aws:events:*"}}, {SRC_ARN: RULE}, True),
    (
        "ArnLike-resource-keeps-colons",
        {"ArnLike": {SRC_ARN: "arn:aws:lambda:*:*:*"}},
        {SRC_ARN: COLONS},
        False,
    ),
    ("ArnLike-resource-with-colons", {"ArnLike": {SRC_ARN: "arn:aws:sns:*:*:*"}}, {SRC_ARN: COLONS}, True),
    ("ArnLike-case-sensitive", {"ArnLike": {SRC_ARN: RULE.upper()}}, {SRC_ARN: RULE}, False),
    ("ArnLike-not-an-arn", {"ArnLike": {SRC_ARN: STAR_RULE}}, {SRC_ARN: "rule/remediation-failed"}, False),
    ("ArnLike-missing-false", {"ArnLike": {SRC_ARN: RULE}}, {}, False),
    ("ArnNotLike-match", {"ArnNotLike": {SRC_ARN: STAR_RULE}}, {SRC_ARN: RULE}, False),
    ("ArnNotLike-no-match", {"ArnNotLike": {SRC_ARN: "arn:aws:iot:*:*:*"}}, {SRC_ARN: RULE}, True),
    ("ArnNotLike-missing-true", {"ArnNotLike": {SRC_ARN: RULE}}, {}, True),
    ("ArnNotEquals-missing-true", {"ArnNotEquals": {SRC_ARN: RULE}}, {}, True),
    ("Bool-string-vs-bool", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
    ("Bool-json-true", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"}, True),
    ("Bool-differs", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
    ("Bool-False-any-case", {"Bool": {"aws:SecureTransport": "False"}}, {"aws:SecureTransport": False}, True),
    ("Bool-missing-false", {"Bool": {"aws:SecureTransport": "true"}}, {}, False),
    ("Null-true-missing", {"Null": {SRC_ARN: "true"}}, {}, True),
    ("Null-true-present", {"Null": {SRC_ARN: "true"}}, {SRC_ARN: RULE}, False),
    ("Null-false-present", {"Null": {SRC_ARN: "false"}}, {SRC_ARN: RULE}, True),
    ("Null-false-missing", {"Null": {SRC_ARN: False}}, {}, False),
    ("IfExists-missing-true", {"StringEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}}, {}, True),
    ("IfExists-present", {"StringEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}}, {SRC_ACCOUNT: ACCOUNT}, True),
    ("IfExists-differs", {"StringEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}}, {SRC_ACCOUNT: "1"}, False),
    ("NotIfExists-equal", {"StringNotEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}}, {SRC_ACCOUNT: ACCOUNT}, False),
    ("NotIfExists-missing-true", {"StringNotEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}}, {}, True),
    ("ArnLikeIfExists-missing-true", {"ArnLikeIfExists": {SRC_ARN: RULE}}, {}, True),
    ("ArnLikeIfExists-differs", {"ArnLikeIfExists": {SRC_ARN: RULE}}, {SRC_ARN: TASK}, False),
    ("BoolIfExists-missing-true", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    ("Any-one-matches", {"ForAnyValue:StringEquals": {TAGS: ["b", "c"]}}, {TAGS: ["a", "b"]}, True),
    ("Any-none-matches", {"ForAnyValue:StringEquals": {TAGS: ["b", "c"]}}, {TAGS: ["a"]}, False),
    ("Any-missing-false", {"ForAnyValue:StringEquals": {TAGS: "a"}}, {}, False),
    ("Any-empty-false", {"ForAnyValue:StringEquals": {TAGS: "a"}}, {TAGS: []}, False),
    ("Any-negated", {"ForAnyValue:StringNotEquals": {TAGS: "a"}}, {TAGS: ["a", "b"]}, True),
    ("Any-ArnLike", {"ForAnyValue:ArnLike": {"k": "arn:aws:iot:*:*:*"}}, {"k": [RULE, TASK]}, True),
    ("All-subset", {"ForAllValues:StringEquals": {TAGS: ["a", "b", "c"]}}, {TAGS: ["a", "b"]}, True),
    ("All-not-subset", {"ForAllValues:StringEquals": {TAGS: ["a", "b"]}}, {TAGS: ["a", "d"]}, False),
    ("All-missing-true", {"ForAllValues:StringEquals": {TAGS: "a"}}, {}, True),
    ("All-empty-true", {"ForAllValues:StringEquals": {TAGS: "a"}}, {TAGS: []}, True),
    # The user guide's example table for ForAllValues:StringNotLike "key1*" (multivalued context key examples)
    ("All-NotLike-key1", {"ForAllValues:StringNotLike": {TAGS: "key1*"}}, {TAGS: ["key1:legal"]}, False),
    ("All-NotLike-key2-audit", {"ForAllValues:StringNotLike": {TAGS: "key1*"}}, {TAGS: ["key2:audit"]}, True),
    ("All-NotLike-missing", {"ForAllValues:StringNotLike": {TAGS: "key1*"}}, {}, True),
    ("keys-AND", {"StringEquals": {"a": "1", "b": "2"}}, {"a": "1"}, False),
    ("ops-AND", {"StringEquals": {"a": "1"}, "ArnLike": {SRC_ARN: TASK}}, {"a": "1", SRC_ARN: RULE}, False),
    (
        "ops-AND-hold",
        {"StringEquals": {"a": "1"}, "ArnLike": {SRC_ARN: RULE}},
        {"a": "1", SRC_ARN: RULE},
        True,
    ),
    ("one-value-list", {"StringEquals": {"k": "v"}}, {"k": ["v"]}, True),
)


@pytest.mark.parametrize(("condition", "context", "holds"), CONDITION_ROWS)
def test_condition(condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    # Given an Allow restricted only by the condition: the request is allowed exactly when the condition holds
    statement = allow("sns:Publish", TOPIC, Condition=condition)
    decision = evaluate(Request(ROLE, "sns:Publish", TOPIC, context), identity_policies=[policy(statement)])
    assert_decision(decision, None if holds else NO_IDENTITY)


def test_a_deny_whose_condition_key_is_missing_does_not_apply() -> None:
    guarded = deny("sns:Publish", Condition={"Bool": {"aws:ViaAWSService": "true"}})
    decision = evaluate(
        Request(ROLE, "sns:Publish", TOPIC), identity_policies=[policy(allow("sns:*"), guarded)]
    )
    assert decision.allowed


# Resource-based policies that need not allow (SNS topic, SQS queue, Lambda function): an Allow naming the role,
# its session, or "*" suffices; one naming the account (root ARN or bare id) delegates to the identity policies
# (Principal element page); a Deny naming the account applies to its roles.
SAME_ACCOUNT_ROWS = rows(
    ("names-role", [], [grant(ROLE_P, "sns:Publish")], None),
    ("names-session", [], [grant({"AWS": [OTHER_ROLE, SESSION_ARN]}, "sns:Publish")], None),
    ("names-star", [], [grant("*", "sns:Publish")], None),
    ("names-aws-star", [], [grant({"AWS": "*"}, "sns:Publish")], None),
    ("root-delegates-no-identity", [], [grant(ROOT_P, "sns:Publish")], NO_IDENTITY),
    ("account-id-delegates-no-identity", [], [grant({"AWS": ACCOUNT}, "sns:Publish")], NO_IDENTITY),
    ("root-delegates-identity-allows", [allow("sns:*")], [grant(ROOT_P, "sns:Publish")], None),
    ("names-other-role", [], [grant({"AWS": OTHER_ROLE}, "sns:Publish")], NO_IDENTITY),
    ("names-role-other-action", [], [grant(ROLE_P, "sns:Subscribe")], NO_IDENTITY),
    ("identity-alone", [allow("sns:Publish", TOPIC)], [], None),
    ("resource-deny-wins", [allow("sns:*")], [grant(ROLE_P, "sns:Publish", "Deny")], RESOURCE_DENY),
    (
        "deny-naming-account",
        [],
        [grant(ROLE_P, "sns:Publish"), grant(ROOT_P, "sns:*", "Deny")],
        RESOURCE_DENY,
    ),
    ("deny-naming-other-role", [allow("sns:*")], [grant({"AWS": OTHER_ROLE}, "sns:Publish", "Deny")], None),
    ("identity-deny-wins", [deny("sns:Publish")], [grant(ROLE_P, "sns:Publish")], IDENTITY_DENY),
)


@pytest.mark.parametrize(("identity", "resource", "expected"), SAME_ACCOUNT_ROWS)
def test_resource_policy_same_account(
    identity: list[dict[str, Any]], resource: list[dict[str, Any]], expected: str | None
) -> None:
    decision = evaluate(
        Request(ROLE, "sns:Publish", TOPIC),
        identity_policies=[policy(*identity)] if identity else (),
        resource_policy=policy(*resource) if resource else None,
        resource_account=ACCOUNT,
    )
    assert_decision(decision, expected)


# A service principal has no identity policies: only the resource policy's Service principal lets it in.
EVENTS_TOPIC = policy(
    grant({"Service": "events.amazonaws.com"}, "sns:Publish", Condition={"ArnEquals": {SRC_ARN: RULE}})
)
SERVICE_ROWS = rows(
    ("events-own-rule", EVENTS_TOPIC, EVENTS, {SRC_ARN: RULE}, None),
    ("events-other-rule", EVENTS_TOPIC, EVENTS, {SRC_ARN: f"{RULE}-x"}, NO_RESOURCE),
    ("events-no-source-arn", EVENTS_TOPIC, EVENTS, {}, NO_RESOURCE),
    ("other-service", EVENTS_TOPIC, IOT, {SRC_ARN: RULE}, NO_RESOURCE),
    ("no-resource-policy", None, EVENTS, {SRC_ARN: RULE}, NO_RESOURCE),
    ("root-is-not-a-service", policy(grant(ROOT_P, "sns:Publish")), EVENTS, {}, NO_RESOURCE),
)


@pytest.mark.parametrize(("resource", "caller", "context", "expected"), SERVICE_ROWS)
def test_service_principal(
    resource: Policy | None, caller: Caller, context: dict[str, str], expected: str | None
) -> None:
    request = Request(caller, "sns:Publish", TOPIC, context)
    assert_decision(evaluate(request, resource_policy=resource, resource_account=ACCOUNT), expected)


# KMS key policies must allow (evaluation logic; KMS "Default key policy": the root statement enables IAM policies).
NO_IDENTITY_KMS = "because no identity-based policy allows the kms:GenerateDataKey action"
NO_RESOURCE_KMS = "because no resource-based policy allows the kms:GenerateDataKey action"
ENABLE_IAM = grant(ROOT_P, "kms:*", Sid="Enable IAM User Permissions")
KMS_USE = [allow(["kms:GenerateDataKey", "kms:Decrypt"], KEY)]
KMS_ROWS = rows(
    ("key-policy-names-role", [], policy(grant(ROLE_P, "kms:GenerateDataKey")), None),
    ("root-and-identity", KMS_USE, policy(ENABLE_IAM), None),
    ("root-without-identity", [], policy(ENABLE_IAM), NO_IDENTITY_KMS),
    ("no-statement-for-us", KMS_USE, policy(grant({"AWS": OTHER_ROLE}, "kms:*")), NO_RESOURCE_KMS),
    ("no-key-policy", KMS_USE, None, NO_RESOURCE_KMS),
    ("other-action-only", KMS_USE, policy(grant(ROLE_P, "kms:Decrypt")), NO_RESOURCE_KMS),
    ("key-policy-deny", KMS_USE, policy(ENABLE_IAM, grant(ROLE_P, "kms:*", "Deny")), RESOURCE_DENY),
)


@pytest.mark.parametrize(("identity", "key_policy", "expected"), KMS_ROWS)
def test_kms_key_policy_must_allow(
    identity: list[dict[str, Any]], key_policy: Policy | None, expected: str | None
) -> None:
    decision = evaluate(
        Request(ROLE, "kms:GenerateDataKey", KEY),
        identity_policies=[policy(*identity)] if identity else (),
        resource_policy=key_policy,
        resource_account=ACCOUNT,
        resource_policy_required=True,
    )
    assert_decision(decision, expected)


# Role trust policies: a service assuming a role, guarded by the confused-deputy keys (present, absent, wrong).
NO_TRUST = "because no resource-based policy allows the sts:AssumeRole action"
IOT_SOURCE = f"arn:aws:iot:*:{ACCOUNT}:*"
TRUST = policy(
    grant(
        {"Service": "iot.amazonaws.com"},
        "sts:AssumeRole",
        Condition={"StringEquals": {SRC_ACCOUNT: ACCOUNT}, "ArnLike": {SRC_ARN: IOT_SOURCE}},
    )
)
LENIENT = policy(
    grant(
        {"Service": "iot.amazonaws.com"},
        "sts:AssumeRole",
        Condition={"StringEqualsIfExists": {SRC_ACCOUNT: ACCOUNT}, "ArnLikeIfExists": {SRC_ARN: IOT_SOURCE}},
    )
)
TRUST_ROWS = rows(
    ("keys-right", TRUST, {SRC_ACCOUNT: ACCOUNT, SRC_ARN: TASK}, None),
    ("keys-absent", TRUST, {}, NO_TRUST),
    ("wrong-account", TRUST, {SRC_ACCOUNT: OTHER_ACCOUNT, SRC_ARN: TASK}, NO_TRUST),
    ("wrong-source-arn", TRUST, {SRC_ACCOUNT: ACCOUNT, SRC_ARN: RULE}, NO_TRUST),
    ("ifexists-keys-absent", LENIENT, {}, None),
    ("ifexists-wrong-account", LENIENT, {SRC_ACCOUNT: OTHER_ACCOUNT}, NO_TRUST),
)


@pytest.mark.parametrize(("trust", "context", "expected"), TRUST_ROWS)
def test_service_assumes_role_through_its_trust_policy(
    trust: Policy, context: dict[str, str], expected: str | None
) -> None:
    decision = evaluate(
        Request(IOT, "sts:AssumeRole", ROLE_ARN, context),
        resource_policy=trust,
        resource_account=ACCOUNT,
        resource_policy_required=True,
    )
    assert_decision(decision, expected)


# Cross-account policy evaluation logic: the identity policy and the resource policy must both allow.
CROSS_ROWS = rows(
    ("resource-only", [], [grant({"AWS": PARTNER_ROLE}, "sns:Publish")], NO_IDENTITY),
    ("identity-only", [allow("sns:Publish", TOPIC)], [], NO_RESOURCE),
    ("both", [allow("sns:Publish", TOPIC)], [grant({"AWS": PARTNER_ROLE}, "sns:Publish")], None),
    ("both-account-named", [allow("sns:*")], [grant({"AWS": OTHER_ACCOUNT}, "sns:Publish")], None),
    ("our-root-is-not-theirs", [allow("sns:*")], [grant(ROOT_P, "sns:Publish")], NO_RESOURCE),
)


@pytest.mark.parametrize(("identity", "resource", "expected"), CROSS_ROWS)
def test_cross_account(
    identity: list[dict[str, Any]], resource: list[dict[str, Any]], expected: str | None
) -> None:
    decision = evaluate(
        Request(PARTNER, "sns:Publish", TOPIC),
        identity_policies=[policy(*identity)] if identity else (),
        resource_policy=policy(*resource) if resource else None,
        resource_account=ACCOUNT,
    )
    assert_decision(decision, expected)


# What the evaluator does not implement is refused by name, even when the statement does not match the request.
def cond(operator: str, value: Any = "1", **more: Any) -> dict[str, Any]:
    return allow("iam:*", Condition={operator: {"k": value}}, **more)


UNSUPPORTED_ROWS = rows(
    ("numeric", None, [cond("NumericLessThan", Sid="Quota")], "statement 'Quota': .*NumericLessThan"),
    ("date", None, [cond("DateGreaterThan")], r"statement 0 \(no Sid\): .*DateGreaterThan"),
    ("ip", None, [cond("IpAddress", "10.0.0.0/8")], "IpAddress"),
    ("binary", None, [cond("BinaryEquals", "AA==")], "BinaryEquals"),
    ("set-numeric", None, [cond("ForAnyValue:NumericEquals")], "ForAnyValue:NumericEquals"),
    ("unknown-set-operator", None, [cond("ForSomeValues:StringEquals")], "ForSomeValues"),
    ("null-ifexists", None, [cond("NullIfExists", "true")], "NullIfExists"),
    ("number-value", None, [cond("StringEquals", 1)], "condition value 1"),
    ("variable-in-resource", None, [allow("s3:*", "arn:aws:s3:::b/${aws:username}/*")], "policy variables"),
    ("variable-in-condition", None, [cond("StringEquals", "${aws:username}")], "policy variables"),
    ("typo", None, [{"Effect": "Allow", "Action": "iam:*", "Resources": "*"}], "element Resources"),
    ("principal-in-identity", None, [allow("iam:*", Principal="*")], "identity-based policy cannot name"),
    ("no-resource", None, [{"Effect": "Allow", "Action": "iam:*"}], "needs Resource or NotResource"),
    ("effect", None, [allow("iam:*") | {"Effect": "Permit"}], "Effect must be Allow or Deny"),
    ("no-action", None, [{"Effect": "Allow", "Resource": "*"}], "Action or NotAction is required"),
    ("both-action-and-not", None, [allow("iam:*", NotAction="s3:*")], "Action and NotAction cannot both"),
    ("notprincipal", [{"Effect": "Deny", "NotPrincipal": ROOT_P, "Action": "sns:*"}], [], "NotPrincipal"),
    ("federated", [grant({"Federated": "cognito-identity.amazonaws.com"}, "iam:*")], [], "type Federated"),
    ("principal-wildcard", [grant({"AWS": f"{ROOT[:-4]}role/*"}, "iam:*")], [], "partial wildcard"),
    ("no-principal", [allow("iam:*")], [], "resource-based policy needs a Principal"),
)


@pytest.mark.parametrize(("resource", "identity", "message"), UNSUPPORTED_ROWS)
def test_unsupported_policy_is_refused_by_name(
    resource: list[dict[str, Any]] | None, identity: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(UnsupportedPolicyError, match=message):
        evaluate(
            Request(ROLE, "sns:Publish", TOPIC),
            identity_policies=[policy(*identity)] if identity else (),
            resource_policy=policy(*resource) if resource is not None else None,
        )


def test_a_plain_operator_on_a_multivalued_key_is_refused() -> None:
    statement = allow("sns:Publish", TOPIC, Condition={"StringEquals": {TAGS: "a"}})
    request = Request(ROLE, "sns:Publish", TOPIC, {TAGS: ["a", "b"]})
    with pytest.raises(UnsupportedPolicyError, match="StringEquals on aws:TagKeys gets 2 values"):
        evaluate(request, identity_policies=[policy(statement)])


def test_a_service_principal_has_no_identity_policies() -> None:
    with pytest.raises(ValueError, match=r"service principal events\.amazonaws\.com has no identity-based"):
        evaluate(Request(EVENTS, "sns:Publish", TOPIC), identity_policies=[policy(allow("sns:Publish"))])
