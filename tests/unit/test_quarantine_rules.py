"""The rule option quarantineDays: a positive number of days, only on a rule whose actions quarantine, one
value per check; anything else is a RulesError that names the rule and what to change."""

from typing import Any

import pytest
import yaml

from audit_remediator.errors import RulesError
from audit_remediator.rules import parse_rules
from tests.conftest import ROOT

RULES_FILE = ROOT / "layers" / "core" / "audit_remediator" / "rules.yaml"
SHARED = "DEVICE_CERTIFICATE_SHARED_CHECK"
LOGGING = "LOGGING_DISABLED_CHECK"
KEY_QUALITY = "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK"
TOO_SHORT, REVOKED_KEY = (
    "CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361",
    "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166",
)


def table(**rule_changes: Any) -> dict[str, Any]:
    """The packaged table with the first rule of each named check changed."""
    document: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    for rule in document["rules"]:
        rule.pop("quarantineDays", None)
        rule.update(rule_changes.get(rule["check"], {}))
    return document


def test_quarantine_days_set_on_a_quarantining_rule_is_what_the_check_gets() -> None:
    rules = parse_rules(yaml.safe_dump(table(**{SHARED: {"quarantineDays": 14}})))

    assert rules.quarantine_days(SHARED) == 14
    assert rules.quarantine_days(LOGGING) is None
    assert rules.quarantine_days("DEVICE_CERTIFICATE_KEY_QUALITY_CHECK") is None


def test_the_packaged_table_time_boxes_the_device_certificate_quarantines() -> None:
    rules = parse_rules(RULES_FILE.read_text())

    assert rules.quarantine_days(SHARED) == 30
    assert rules.quarantine_days("DEVICE_CERTIFICATE_KEY_QUALITY_CHECK") == 30


@pytest.mark.parametrize(
    ("days", "message"),
    [
        pytest.param(0, "quarantineDays: Input should be greater than or equal to 1", id="zero"),
        pytest.param(-3, "quarantineDays: Input should be greater than or equal to 1", id="negative"),
        pytest.param(91, "quarantineDays: Input should be less than or equal to 90", id="past-retention"),
        pytest.param("30", "quarantineDays: Input should be a valid integer", id="text"),
        pytest.param(1.5, "quarantineDays: Input should be a valid integer", id="fraction"),
        pytest.param(True, "quarantineDays: Input should be a valid integer", id="boolean"),
    ],
)
def test_quarantine_days_must_be_a_whole_number_of_days_within_the_audit_retention(
    days: Any, message: str
) -> None:
    with pytest.raises(RulesError, match="does not match its schema") as raised:
        parse_rules(yaml.safe_dump(table(**{SHARED: {"quarantineDays": days}})))

    assert message in str(raised.value)


def test_quarantine_days_on_a_rule_that_quarantines_nothing_is_refused_with_the_fix() -> None:
    with pytest.raises(RulesError) as raised:
        parse_rules(yaml.safe_dump(table(**{LOGGING: {"quarantineDays": 7}})))

    assert str(raised.value) == (
        "rules table is invalid: rules[0] (LOGGING_DISABLED_CHECK): quarantineDays is set, but none of its actions "
        "(EnableErrorLoggingAction) quarantines (ADD_THINGS_TO_THING_GROUP): remove quarantineDays or add a "
        "quarantine action"
    )


def test_quarantine_days_on_the_default_rule_that_quarantines_nothing_is_refused_once() -> None:
    document = table()
    document["default"]["quarantineDays"] = 7

    with pytest.raises(RulesError) as raised:
        parse_rules(yaml.safe_dump(document))

    assert str(raised.value).count("default: quarantineDays is set") == 1


@pytest.mark.parametrize(
    ("second", "values"), [(30, "30, 7"), (None, "7, none")], ids=["other-days", "unset"]
)
def test_two_quarantining_rules_of_one_check_must_agree_on_quarantine_days(
    second: int | None, values: str
) -> None:
    # Given the key-quality check split by reason code, both rules quarantining, for different days: a finished
    # task names the check, not the reason code, so the quarantine's length could not be told
    document = table(**{KEY_QUALITY: {"reasonCodes": [TOO_SHORT], "quarantineDays": 7}})
    split = dict(next(rule for rule in document["rules"] if rule["check"] == KEY_QUALITY))
    document["rules"].append({**split, "reasonCodes": [REVOKED_KEY], "quarantineDays": second})
    if second is None:
        document["rules"][-1].pop("quarantineDays")

    with pytest.raises(RulesError) as raised:
        parse_rules(yaml.safe_dump(document))

    # Then only that is wrong, and the error names both rules and the values
    index = len(document["rules"]) - 1
    assert str(raised.value) == (
        f"rules table is invalid: the rules that quarantine for {KEY_QUALITY} (rules[2], rules[{index}]) must all "
        f"set the same quarantineDays, or none: they set {values}"
    )
