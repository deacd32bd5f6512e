"""The rules table: validated at load and against template.yaml (D30, D31, D34; security property 9)."""

from pathlib import Path

import pytest
import yaml
from samtranslator.yaml_helper import yaml_parse

from audit_remediator.checks import KNOWN_CHECKS, ActionType
from audit_remediator.errors import RulesError
from audit_remediator.rules import DeployedActions, load_rules, parse_rules
from tests.conftest import ROOT, STACK_NAME
from tests.unit.fakes import template_mitigation_actions
from tools.cloudformation_checks import CLOUDFORMATION_CHECK_PROPERTIES
from tools.stack_rules import StackAction, problems_against_stack, stack_mitigation_actions

RULES_FILE = ROOT / "layers" / "core" / "audit_remediator" / "rules.yaml"


def packaged() -> dict:  # type: ignore[type-arg]
    document: dict = yaml.safe_load(RULES_FILE.read_text())  # type: ignore[type-arg]
    return document


def dump(document: dict) -> str:  # type: ignore[type-arg]
    return yaml.safe_dump(document)


def test_packaged_rules_are_valid_and_cover_every_known_check() -> None:
    rules = load_rules()
    assert set(rules.by_check) == set(KNOWN_CHECKS)
    assert len(rules.version) == 12


def test_packaged_rules_match_the_mitigation_actions_in_template_yaml() -> None:
    # Every action the rules use is an AWS::IoT::MitigationAction of the stack, of the same type,
    # and the publish action does not publish to the trigger topic.
    template = yaml_parse((ROOT / "template.yaml").read_text())
    assert problems_against_stack(load_rules(), stack_mitigation_actions(template)) == []


def test_the_default_table_is_the_documented_one() -> None:
    rules = load_rules()

    def summary(check: str) -> list[tuple[tuple[str, ...], str, int | None]]:
        return [(rule.actions, rule.mode, rule.max_resources) for rule in rules.rules_for(check)]

    assert summary("LOGGING_DISABLED_CHECK") == [(("EnableErrorLoggingAction",), "enforce", None)]
    assert summary("DEVICE_CERTIFICATE_SHARED_CHECK") == [
        (("QuarantineThingsAction", "DeactivateDeviceCertificateAction"), "enforce", 25)
    ]
    assert summary("REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK") == [
        (("DeactivateDeviceCertificateAction",), "enforce", 100)
    ]
    # What cuts off every device behind a CA or a policy waits for an operator's approval
    assert summary("CA_CERTIFICATE_KEY_QUALITY_CHECK") == [(("DeactivateCaCertificateAction",), "approve", 5)]
    assert summary("REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK") == [
        (("DeactivateCaCertificateAction",), "approve", 5)
    ]
    assert summary("IOT_POLICY_OVERLY_PERMISSIVE_CHECK") == [
        (("ReplacePolicyWithBlankAction",), "approve", 5)
    ]
    assert summary("CONFLICTING_CLIENT_IDS_CHECK") == [(("PublishFindingToReportsAction",), "enforce", None)]


def test_version_ignores_comments_and_layout_but_not_content() -> None:
    text = RULES_FILE.read_text()
    reformatted = "# another comment\n" + dump(yaml.safe_load(text))
    assert parse_rules(reformatted).version == parse_rules(text).version
    changed = packaged()
    changed["rules"][0]["mode"] = "dry-run"
    assert parse_rules(dump(changed)).version != parse_rules(text).version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("rules: [unclosed", "not valid YAML", id="unparseable"),
        pytest.param("- just\n- a list\n", "not a mapping", id="list"),
        pytest.param("triggerTopic: AuditEventsTopic\nactions: {}\nrules: []\n", "schema", id="no rules"),
    ],
)
def test_unreadable_or_empty_tables_fail_closed(text: str, message: str) -> None:
    # D30: an unreadable, empty or schema-less table is an error, never "no rules, carry on"
    with pytest.raises(RulesError, match=message):
        parse_rules(text)


def test_an_unreadable_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "missing.yaml")


def _broken(change: str) -> dict:  # type: ignore[type-arg]
    document = packaged()
    rules = document["rules"]
    match change:
        case "incompatible action":
            rules[0]["actions"] = ["DeactivateDeviceCertificateAction"]  # logging check
        case "undefined action":
            rules[0]["actions"] = ["NoSuchAction"]
        case "unknown check":
            rules[0]["check"] = "NOT_A_REAL_CHECK"
        case "unknown reason code":
            rules[0]["reasonCodes"] = ["NOT_A_CODE"]
        case "overlap":
            rules.append({**rules[1], "mode": "dry-run"})
        case "overlap through alias":
            rules.append({**rules[5], "check": "REVOKED_CA_CERT_CHECK"})
        case "six actions":
            rules[1]["actions"] = ["QuarantineThingsAction"] * 6
        case "duplicate action":
            rules[1]["actions"] = ["QuarantineThingsAction", "QuarantineThingsAction"]
        case "bad mode":
            rules[0]["mode"] = "yolo"
        case "zero cap":
            rules[1]["maxResources"] = 0
        case "unknown key":
            rules[0]["maxResource"] = 5
        case "publish to trigger topic":
            document["actions"]["PublishFindingToReportsAction"]["topic"] = "AuditEventsTopic"
        case "publish without topic":
            del document["actions"]["PublishFindingToReportsAction"]["topic"]
        case "no reason codes":
            rules[0]["reasonCodes"] = []
        case "boolean cap":
            rules[1]["maxResources"] = True
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("incompatible action", "not supported for LOGGING_DISABLED_CHECK"),
        ("undefined action", "not defined"),
        ("unknown check", "unknown check"),
        ("unknown reason code", "not reported by"),
        ("overlap", "both match"),
        ("overlap through alias", "both match"),
        ("six actions", "schema"),
        ("duplicate action", "listed twice"),
        ("bad mode", "schema"),
        ("zero cap", "schema"),
        ("unknown key", "schema"),
        ("publish to trigger topic", "trigger topic"),
        ("publish without topic", "needs a topic"),
        ("no reason codes", "schema"),
        ("boolean cap", "schema"),
    ],
)
def test_invalid_tables_are_rejected_with_the_reason(change: str, message: str) -> None:
    # D31 and D34: incompatible actions, unknown checks, overlaps and loops are caught at load (and in CI)
    with pytest.raises(RulesError, match=message):
        parse_rules(dump(_broken(change)))


def test_legacy_check_names_in_rules_are_normalised() -> None:
    document = packaged()
    document["rules"][5]["check"] = "REVOKED_CA_CERT_CHECK"
    rules = parse_rules(dump(document))
    assert rules.rules_for("REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK")[0].actions == (
        "DeactivateCaCertificateAction",
    )


def test_both_spellings_of_the_misconfiguration_check_find_its_rule() -> None:
    # Which spelling the live API uses is UNVERIFIED (reference §1.4): both must work
    rules = load_rules()
    assert rules.rules_for("IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK")
    assert rules.rules_for("IOT_POLICY_POTENTIAL_MIS_CONFIGURATION_CHECK") == rules.rules_for(
        "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK"
    )


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        pytest.param({}, "is not an AWS::IoT::MitigationAction", id="action missing from the template"),
        pytest.param(
            {"EnableErrorLoggingAction": StackAction(ActionType.UPDATE_CA_CERTIFICATE, None)},
            "is UPDATE_CA_CERTIFICATE in the template",
            id="type differs",
        ),
        pytest.param(
            {
                "PublishFindingToReportsAction": StackAction(
                    ActionType.PUBLISH_FINDING_TO_SNS, "AuditEventsTopic"
                )
            },
            "trigger topic",
            id="template publishes to the trigger topic",
        ),
    ],
)
def test_template_drift_is_reported(stack: dict[str, StackAction], message: str) -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    actions = {**stack_mitigation_actions(template), **stack}
    if not stack:
        del actions["EnableErrorLoggingAction"]
    assert any(message in problem for problem in problems_against_stack(load_rules(), actions))


def test_a_change_to_the_check_catalogue_is_a_new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # "all" reason codes and the default rule resolve through the catalogue, not the table alone
    before = load_rules().version
    info = KNOWN_CHECKS["LOGGING_DISABLED_CHECK"]
    monkeypatch.setitem(
        KNOWN_CHECKS,
        "LOGGING_DISABLED_CHECK",
        type(info)(info.name, (*info.reason_codes, "NEW_CODE"), info.actions),
    )
    assert load_rules().version != before


def test_every_known_check_has_its_cloudformation_property() -> None:
    assert sorted(CLOUDFORMATION_CHECK_PROPERTIES.values()) == sorted(KNOWN_CHECKS)


PREFIX = f"{STACK_NAME}-"


def deployed_without(*logical_ids: str) -> DeployedActions:
    names = {PREFIX + name for name in template_mitigation_actions() if name not in logical_ids}
    return DeployedActions(PREFIX, frozenset(names))


def test_the_packaged_rules_load_against_the_stacks_action_names() -> None:
    assert load_rules(deployed=deployed_without()).version == load_rules().version


@pytest.mark.parametrize(
    ("missing", "rule"),
    [
        ("PublishFindingToReportsAction", "default"),
        ("EnableErrorLoggingAction", "rules[0] (LOGGING_DISABLED_CHECK)"),
        ("DeactivateDeviceCertificateAction", "rules[1] (DEVICE_CERTIFICATE_SHARED_CHECK)"),
    ],
)
def test_a_rule_naming_an_action_the_stack_does_not_define_is_a_rules_error(missing: str, rule: str) -> None:
    # Fail closed at load: IoT would reject the whole task, dropping every other check in it
    deployed = deployed_without(missing)

    with pytest.raises(RulesError) as raised:
        load_rules(deployed=deployed)

    message = str(raised.value)
    assert f"{rule}: mitigation action {PREFIX}{missing} is not defined by the stack" in message
    assert f"it defines: {', '.join(sorted(deployed.names))}" in message


def test_another_prefix_is_checked_as_the_names_are_built() -> None:
    names = frozenset(f"other-{name}" for name in template_mitigation_actions())

    assert load_rules(deployed=DeployedActions("other-", names)).version == load_rules().version
    with pytest.raises(RulesError, match="is not defined by the stack"):
        load_rules(deployed=DeployedActions(PREFIX, names))
