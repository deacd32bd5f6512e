"""The permissions manifest: for each role of the stack, the IAM actions (kms:* on its keys included)
IAM allowed it while the scenarios ran on template.yaml, each with the scenarios that needed it.
The mutation tests are generated from it; a test fails when it no longer matches the scenarios.

    make iam-manifest        (python -m tests.integration.iam.manifest)
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from tests.integration.iam.scenarios import SCENARIOS, running

PATH: Final = Path(__file__).with_name("permissions.json")
REGENERATE: Final = "make iam-manifest"

# role logical id -> action -> scenarios that were granted it, in SCENARIOS order
Manifest = dict[str, dict[str, list[str]]]


def build(grants: Iterable[tuple[str, set[tuple[str, str]]]]) -> Manifest:
    """The manifest of (scenario, its (role, action) grants) pairs."""
    manifest: Manifest = {}
    for scenario, granted in grants:
        for role, action in sorted(granted):
            manifest.setdefault(role, {}).setdefault(action, []).append(scenario)
    return {role: dict(sorted(actions.items())) for role, actions in sorted(manifest.items())}


def scenario_grants(manifest: Manifest, scenario: str) -> set[tuple[str, str]]:
    return {
        (role, action)
        for role, actions in manifest.items()
        for action, scenarios in actions.items()
        if scenario in scenarios
    }


def entries(manifest: Manifest) -> list[tuple[str, str, str]]:
    """(role, action, the first scenario that needs it) of every permission in the manifest."""
    return [
        (role, action, scenarios[0])
        for role, actions in manifest.items()
        for action, scenarios in actions.items()
    ]


def load() -> Manifest:
    manifest: Manifest = json.loads(PATH.read_text())["roles"]
    return manifest


def generate() -> Manifest:
    grants = []
    for name in SCENARIOS:
        with running(name) as run:
            if not run.healthy or run.sb.iam.denials:
                raise RuntimeError(
                    f"scenario {name} is not healthy with template.yaml: {run.problems} {run.sb.iam.denials}"
                )
            grants.append((name, run.granted()))
    return build(grants)


def main() -> int:
    # Step Functions logs the failed execution of a scenario as an error; it is the expected outcome.
    logging.disable(logging.ERROR)
    document = {"regenerate": REGENERATE, "roles": generate()}
    PATH.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
