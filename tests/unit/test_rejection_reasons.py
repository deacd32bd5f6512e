"""Rejection reasons are plain words: where in the message, and what is wrong; never pydantic's internals."""

import json
import re
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit_remediator.intake import handle_event
from audit_remediator.plain_errors import describe, location
from tests.conftest import EVENTS_DIR, load_event, sns_message, with_message
from tests.unit.fakes import make_fakes

pytestmark = pytest.mark.usefixtures("offline_aws")

SCHEDULED = load_event("scheduled-non-compliant")
FINDING = load_event("finding-shared-certificate")
POLICY_FINDING = load_event("finding-iot-policy")
# What pydantic puts in its own locations and messages: schema tags, validator names, type names.
INTERNALS = re.compile(
    r"is-subclass|is-instance|function-(?:after|before|wrap|plain)|model_attributes_type|model_type"
    r"|tagged-union|json-or-python|lax-or-strict|nullable|constrained-str|Value error|Input should"
    r"|BaseModel|pydantic|https?://errors|[A-Za-z_-]+\[[^\]]*\]|\b(?:str|int|float|bool|list|dict)\s*:"
)


def reason(event: dict[str, Any]) -> str:
    outcome = handle_event(event, make_fakes().services)
    assert outcome.decision == "rejected", outcome.reason
    return outcome.reason


def audit(**changes: Any) -> dict[str, Any]:
    message = sns_message(SCHEDULED)
    message.update(changes)
    return with_message(SCHEDULED, message)


def detail(**changes: Any) -> dict[str, Any]:
    return {**sns_message(SCHEDULED)["auditDetails"][7], **changes}


def test_a_check_listed_twice_is_named() -> None:
    twice = sns_message(SCHEDULED)["auditDetails"][3]

    assert reason(audit(auditDetails=[twice, detail(), twice])) == (
        "invalid-audit-notification: auditDetails: the check CONFLICTING_CLIENT_IDS_CHECK is listed twice"
    )


def test_a_legacy_and_an_api_name_of_one_check_are_the_same_check() -> None:
    legacy = {**detail(), "checkName": "REVOKED_CA_CERT_CHECK"}
    api = {**detail(), "checkName": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"}

    assert "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK is listed twice" in reason(
        audit(auditDetails=[legacy, api])
    )


def test_more_non_compliant_resources_than_examined_is_rejected() -> None:
    inconsistent = detail(nonCompliantResourcesCount=9, totalResourcesCount=3)

    assert reason(audit(auditDetails=[detail(checkName="LOGGING_DISABLED_CHECK"), inconsistent])) == (
        "invalid-audit-notification: auditDetails, item 2: the check DEVICE_CERTIFICATE_SHARED_CHECK "
        "reports 9 non-compliant resources but examined only 3"
    )


def test_as_many_non_compliant_resources_as_examined_is_fine() -> None:
    outcome = handle_event(
        audit(auditDetails=[detail(nonCompliantResourcesCount=3, totalResourcesCount=3)]),
        make_fakes().services,
    )
    assert outcome.decision == "remediate"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            audit(auditDetails=[detail(), 5]),
            "invalid-audit-notification: auditDetails, item 2: should be an object",
            id="a detail that is not an object",
        ),
        pytest.param(
            audit(taskId="has space"),
            "invalid-audit-notification: taskId: has characters or a format that are not allowed here",
            id="pattern",
        ),
        pytest.param(
            audit(totalChecksCount="17"),
            "invalid-audit-notification: totalChecksCount: should be a whole number",
            id="count as text",
        ),
        pytest.param(
            audit(taskStatus="DONE"),
            "invalid-audit-notification: taskStatus: should be one of 'COMPLETED', 'FAILED' or 'CANCELED'",
            id="enumeration",
        ),
        pytest.param(
            audit(auditDetails=[detail(checkRunStatus=None)]),
            "invalid-audit-notification: auditDetails, item 1, checkRunStatus: should be one of "
            "'COMPLETED_COMPLIANT', 'COMPLETED_NON_COMPLIANT', 'FAILED', 'CANCELED', 'IN_PROGRESS' or "
            "'WAITING_FOR_DATA_COLLECTION'",
            id="nested enumeration",
        ),
        pytest.param(
            with_message(SCHEDULED, "[1, 2]"),
            "unrecognised-message: the message is not an audit-completion, per-finding or Detect message",
            id="a list",
        ),
    ],
)
def test_message_problems_read_as_plain_words(event: dict[str, Any], expected: str) -> None:
    assert reason(event) == expected


def test_an_sns_message_that_is_not_text_names_the_field_once() -> None:
    event = json.loads(json.dumps(SCHEDULED))
    event["Records"][0]["Sns"]["Message"] = {"taskId": "x"}

    assert reason(event) == "not-an-sns-event: Records, item 1, Sns, Message: should be text"


@pytest.mark.parametrize(("sns", "kind"), [(None, "null"), (5, "a number"), (True, "true or false")])
def test_an_sns_record_that_is_not_an_object_is_rejected_not_raised(sns: Any, kind: str) -> None:
    # Powertools' SNS model iterates the record before validating it: null used to raise TypeError
    event = json.loads(json.dumps(SCHEDULED))
    event["Records"][0]["Sns"] = sns

    assert reason(event) == f"not-an-sns-event: Records, item 1, Sns: should be an object, not {kind}"


@pytest.mark.parametrize(("event", "kind"), [([], "a list"), ("text", "text"), (None, "null")])
def test_an_event_that_is_not_an_object_says_what_it_is(event: Any, kind: str) -> None:
    assert reason(event) == f"not-an-sns-event: the event is {kind}, not an object"


def test_many_problems_are_counted_after_the_first_three() -> None:
    event = {"Records": [{"Sns": {}}]}

    described = reason(event)

    assert described.startswith("not-an-sns-event: Records, item 1, EventSource: is missing; ")
    assert re.search(r"\(and \d+ more\)$", described)


def test_every_rejected_sample_event_has_a_plain_reason() -> None:
    reasons = []
    for path in sorted(EVENTS_DIR.glob("*.json")):
        outcome = handle_event(json.loads(path.read_text()), make_fakes().services)
        if outcome.decision == "rejected":
            reasons.append(outcome.reason)
    assert len(reasons) == 4
    assert [r for r in reasons if INTERNALS.search(r)] == []


class _Every(BaseModel):
    """One field per constraint the inbound models use."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[a-z]+$")]
    count: Annotated[int, Field(ge=0, le=5)]
    ratio: float
    flag: bool
    items: Annotated[list[int], Field(min_length=1, max_length=2)]
    kind: Literal["a", "b"]
    nested: "_Every | None" = None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "a"}, "name: should have at least 2 characters"),
        ({"name": "abcd"}, "name: should have at most 3 characters"),
        ({"name": "AB"}, "name: has characters or a format that are not allowed here"),
        ({"count": -1}, "count: should be at least 0"),
        ({"count": 6}, "count: should be at most 5"),
        ({"count": 1.5}, "count: should be a whole number"),
        ({"ratio": "x"}, "ratio: should be a number"),
        ({"flag": "yes"}, "flag: should be true or false"),
        ({"items": []}, "items: should have at least 1 items"),
        ({"items": [1, 2, 3]}, "items: should have at most 2 items"),
        ({"items": [1, "2"]}, "items, item 2: should be a whole number"),
        ({"kind": "c"}, "kind: should be one of 'a' or 'b'"),
        ({"surplus": 1}, "surplus: is not expected here"),
        ({"nested": 5}, "nested: should be an object"),
    ],
)
def test_each_constraint_has_a_phrase(data: dict[str, Any], expected: str) -> None:
    valid = {"name": "ab", "count": 1, "ratio": 0.5, "flag": True, "items": [1], "kind": "a"}
    with pytest.raises(ValidationError) as raised:
        _Every.model_validate({**valid, **data})

    assert describe(raised.value) == expected


def test_schema_tags_are_dropped_from_locations() -> None:
    assert location(("audit", "auditDetails", 0, "function-after[_check(), str]", "checkName")) == (
        "auditDetails, item 1, checkName"
    )
    assert (
        location(("Records", 0, "Sns", "Message", "is-subclass[BaseModel]"))
        == "Records, item 1, Sns, Message"
    )
    assert location(("Records", 0, "Sns", "Message", "str")) == "Records, item 1, Sns, Message"


# Generated payloads: strings are plain (letters, digits, a few signs) so a reason that echoes the
# message's own text cannot be mistaken for pydantic's internals.
plain_text = st.text(st.sampled_from("abcXYZ019_- .:/"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.floats(allow_nan=False) | plain_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(plain_text, children, max_size=3),
    max_leaves=12,
)
MESSAGES = [sns_message(SCHEDULED), sns_message(FINDING), sns_message(POLICY_FINDING)]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        found = [(*prefix, key) for key in value]
        return found + [p for key in value for p in _paths(value[key], (*prefix, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value[:3]) for p in _paths(item, (*prefix, index))]
    return []


def _changed(document: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if delete and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        message = draw(st.sampled_from(MESSAGES))
        for _ in range(draw(st.integers(1, 3))):
            paths = _paths(message)
            path = draw(st.sampled_from(paths))
            message = _changed(message, path, draw(json_values), draw(st.booleans()))
        return with_message(SCHEDULED, message)
    paths = [p for p in _paths(SCHEDULED) if p[-1] != "Message"] + [("Records", 0, "Sns", "Message")]
    path = draw(st.sampled_from(paths))
    changed: dict[str, Any] = _changed(SCHEDULED, path, draw(json_values), draw(st.booleans()))
    return changed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_events())
def test_every_rejection_of_a_generated_payload_is_plain_words(event: dict[str, Any]) -> None:
    outcome = handle_event(event, make_fakes().services)
    if outcome.decision == "rejected":
        assert not INTERNALS.search(outcome.reason), outcome.reason
        assert outcome.reason.split(": ", 1)[0].replace("-", "").isalpha()
