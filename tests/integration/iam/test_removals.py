"""Every permission the scenarios were granted is needed: without it (taken from the role's policy,
or for kms:* from its key policy statement), the scenario that uses it first does not reach its
healthy outcome, and IAM refused exactly that action to that role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.iam import manifest, mutations
from tests.integration.iam.conftest import ACCESS_DENIED_CODES, denials_of
from tests.integration.iam.scenarios import running

ENTRIES = manifest.entries(manifest.load())


@pytest.mark.parametrize(("role", "action", "scenario"), ENTRIES, ids=[f"{r}-{a}" for r, a, _ in ENTRIES])
def test_without_the_permission_the_scenario_fails_with_access_denied(
    tmp_path: Path, role: str, action: str, scenario: str
) -> None:
    template = mutations.write(mutations.without_action(role, action), tmp_path)

    with running(scenario, template) as run:
        refused = denials_of(run, role, action)
        assert refused, f"{role} without {action}: IAM refused nothing of it ({run.sb.iam.denials})"
        assert {d.code for d in refused} <= ACCESS_DENIED_CODES
        assert run.problems, f"{role} without {action}: scenario {scenario} still healthy"
