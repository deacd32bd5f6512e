"""Every resource a runtime role's statement names is the one the scenarios need: with it replaced by
another resource of the same service and type, IAM refuses the statement's action on the real one
and the scenario does not reach its healthy outcome. A topic or queue policy that grants the role
the same actions loses that grant in the copy, so that the statement alone decides.

Statements none of whose actions the scenarios make (the function's log writes, X-Ray) are not here:
the sandbox runs no Lambda or IoT logging agent that would make them."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from tests.integration.iam import manifest, mutations
from tests.integration.iam.conftest import ACCESS_DENIED_CODES, denials_of, resolve
from tests.integration.iam.scenarios import SCENARIOS, running

MANIFEST = manifest.load()


def _scenarios(narrowing: mutations.Narrowing) -> list[str]:
    used = {
        scenario
        for action, scenarios in MANIFEST.get(narrowing.role, {}).items()
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in narrowing.actions)
        for scenario in scenarios
    }
    return [scenario for scenario in SCENARIOS if scenario in used]


NARROWINGS = [
    n for n in mutations.narrowings(mutations.load(), lambda role: role in MANIFEST) if _scenarios(n)
]


@pytest.mark.parametrize("narrowing", NARROWINGS, ids=[n.id for n in NARROWINGS])
def test_with_another_resource_the_scenario_fails_with_access_denied(
    tmp_path: Path, narrowing: mutations.Narrowing
) -> None:
    template = mutations.write(mutations.narrowed(narrowing), tmp_path)
    seen = []
    for scenario in _scenarios(narrowing):
        with running(scenario, template) as run:
            original = resolve(run, narrowing.resource)
            refused = [
                d
                for d in denials_of(run, narrowing.role, narrowing.actions)
                if fnmatch.fnmatchcase(d.resource, original)
            ]
            seen.append((scenario, run.sb.iam.denials))
            if refused:
                assert {d.code for d in refused} <= ACCESS_DENIED_CODES
                assert run.problems, f"scenario {scenario} is healthy although {refused} were refused"
                return
    pytest.fail(f"no scenario was refused {narrowing.actions} on {narrowing.resource}: {seen}")
