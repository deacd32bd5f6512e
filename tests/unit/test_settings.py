"""The function's environment: every variable modelled and validated at start-up, none defaulted."""

import pytest
from samtranslator.yaml_helper import yaml_parse

from audit_remediator.errors import SettingsError
from audit_remediator.settings import AuditEventsSettings
from tests.conftest import ROOT
from tests.unit.fakes import environment


def test_the_mitigation_action_names_are_a_set_of_names() -> None:
    settings = AuditEventsSettings.from_environment(environment(MITIGATION_ACTION_NAMES="a-1, b_2,c"))

    assert settings.mitigation_action_names == frozenset({"a-1", "b_2", "c"})


def test_missing_mitigation_action_names_are_an_error_naming_the_variable() -> None:
    values = environment()
    del values["MITIGATION_ACTION_NAMES"]

    with pytest.raises(SettingsError, match="MITIGATION_ACTION_NAMES: Field required"):
        AuditEventsSettings.from_environment(values)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no empty entry"),
        ("a,,b", "no empty entry"),
        ("a,b,", "no empty entry"),
        ("a,a", "names a mitigation action twice"),
        ("a,not valid!", "should match pattern"),
        ("x" * 129, "at most 128 characters"),
        (",".join(f"a{n}" for n in range(101)), "at most 100 items"),
    ],
)
def test_malformed_mitigation_action_names_are_refused(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match="MITIGATION_ACTION_NAMES") as raised:
        AuditEventsSettings.from_environment(environment(MITIGATION_ACTION_NAMES=value))

    assert message in str(raised.value)


def test_the_stack_deploys_as_a_dry_run_unless_told_otherwise() -> None:
    # D33: a plain `sam deploy` starts no mitigation task; the README tells users the same default
    template = yaml_parse((ROOT / "template.yaml").read_text())
    default = template["Parameters"]["RemediationMode"]["Default"]
    variables = template["Resources"]["AuditEventsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REMEDIATION_MODE"] == {"Ref": "RemediationMode"}
    settings = AuditEventsSettings.from_environment(environment(REMEDIATION_MODE=default))
    assert settings.remediation_mode == "DryRun"
    assert "| `RemediationMode` | `DryRun` |" in (ROOT / "README.md").read_text()
