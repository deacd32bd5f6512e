"""Each scenario reaches its healthy outcome with template.yaml, IAM refusing nothing, and was granted
exactly what the committed permissions manifest says (so the mutation tests cannot go stale)."""

from __future__ import annotations

import pytest

from tests.integration.iam import manifest
from tests.integration.iam.scenarios import SCENARIOS, running


def test_the_manifest_names_only_known_scenarios() -> None:
    named = {
        scenario for actions in manifest.load().values() for used in actions.values() for scenario in used
    }
    assert named <= set(SCENARIOS), f"unknown scenarios {named - set(SCENARIOS)}; run {manifest.REGENERATE}"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_scenario_is_healthy_and_granted_what_the_manifest_says(scenario: str) -> None:
    with running(scenario) as run:
        assert run.problems == []
        assert run.sb.iam.denials == []
        granted = run.granted()
    recorded = manifest.scenario_grants(manifest.load(), scenario)
    assert (sorted(granted - recorded), sorted(recorded - granted)) == ([], []), (
        f"scenario {scenario}: (granted but not in the manifest, in the manifest but not granted); "
        f"run {manifest.REGENERATE} and review the difference"
    )
