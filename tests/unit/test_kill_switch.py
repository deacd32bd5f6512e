"""The kill switch in the function: what its values mean, how the parameter is read, and what a pulled
switch does to a delivery (nothing starts, the pause is recorded, the same delivery after the release
starts once)."""

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider

from audit_remediator.adapters.kill_switch import ParameterKillSwitch
from audit_remediator.intake import handle_event, outcome_document
from audit_remediator.kill_switch import KillSwitchPulledError, reading_of, unreadable
from tests.conftest import REGION, STACK_NAME, load_event
from tests.unit.fakes import Fakes, make_fakes

pytestmark = pytest.mark.usefixtures("offline_aws")

NAME = f"/{STACK_NAME}/kill-switch"


@pytest.mark.parametrize(
    ("value", "pulled", "reason"),
    [
        ("released", False, "kill switch released"),
        ("pulled", True, "kill switch pulled"),
        ("Released", True, "kill switch holds 'Released', neither released nor pulled: treated as pulled"),
        ("off", True, "kill switch holds 'off', neither released nor pulled: treated as pulled"),
    ],
)
def test_only_released_lets_remediation_start(value: str, pulled: bool, reason: str) -> None:
    reading = reading_of(value)
    assert (reading.pulled, reading.reason) == (pulled, reason)


def switch(name: str) -> ParameterKillSwitch:
    return ParameterKillSwitch(SSMProvider(boto3_client=boto3.client("ssm", region_name=REGION)), name)


def test_the_parameter_is_read_anew_on_every_decision() -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=NAME, Value="released", Type="String")
    kill_switch = switch(NAME)
    assert not kill_switch.read().pulled
    # A pull between two reads of one warm container is seen by the second read (no cache).
    ssm.put_parameter(Name=NAME, Value="pulled", Overwrite=True)
    assert kill_switch.read().pulled
    ssm.put_parameter(Name=NAME, Value="released", Overwrite=True)
    assert not kill_switch.read().pulled


def test_a_missing_parameter_reads_as_pulled() -> None:
    missing = "/never-created/kill-switch"
    reading = switch(missing).read()
    assert reading.pulled
    assert reading.reason.startswith(f"kill switch unreadable, treated as pulled: GetParameter {missing}: ")
    assert "ParameterNotFound" in reading.reason


def run(fakes: Fakes, event: Any) -> dict[str, Any]:
    return outcome_document(handle_event(event, fakes.services))


@pytest.mark.parametrize("event_name", ["scheduled-non-compliant", "finding-shared-certificate"])
@pytest.mark.parametrize(
    "reading", [reading_of("pulled"), unreadable("ThrottlingException")], ids=["pulled", "unreadable"]
)
def test_a_delivery_while_pulled_starts_nothing_and_the_same_delivery_after_release_starts_once(
    event_name: str, reading: Any
) -> None:
    # Given a pulled (or unreadable) switch
    fakes = make_fakes()
    fakes.kill_switch.reading = reading
    event = load_event(event_name)

    # When a notification arrives, Then the invocation fails on purpose and nothing starts or is claimed
    with pytest.raises(KillSwitchPulledError, match=r"treated as pulled|kill switch pulled"):
        run(fakes, event)
    assert fakes.executions.calls == []
    assert fakes.history.inbox == {}
    # And the pause is in the decision log, and no idempotency record keeps the paused result
    [(_, key, record)] = fakes.history.decisions
    assert key.endswith("#PAUSED")
    assert record["decision"] == "paused"
    assert record["reason"] == reading.reason
    assert fakes.once.items() == []

    # When the switch is released and the same notification is delivered again, twice
    fakes.kill_switch.reading = reading_of("released")
    first, again = run(fakes, event), run(fakes, event)

    # Then exactly one execution starts
    assert (first["decision"], again["decision"]) == ("remediate", "duplicate")
    assert len(fakes.executions.calls) == 1


def test_a_notification_that_starts_nothing_does_not_read_the_switch() -> None:
    fakes = make_fakes()
    fakes.kill_switch.reading = reading_of("pulled")
    assert run(fakes, load_event("compliant"))["decision"] == "no-action"
    assert fakes.kill_switch.reads == 0
