"""sam build resolves every function without pip warning of a missing requirements.txt, and ships all its code.

aws-lambda-builders' pip workflow logs "requirements.txt file not found" and copies the source when
CodeUri has no manifest; a function whose dependencies all come from a layer says so with SAM's
`BuildMethod: makefile` and a `build-<LogicalId>` target that copies the code into $(ARTIFACTS_DIR).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.conftest import ROOT

TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
FUNCTIONS = {
    logical_id: resource
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_has_a_manifest_or_a_makefile_build(logical_id: str) -> None:
    resource = FUNCTIONS[logical_id]
    code = ROOT / resource["Properties"]["CodeUri"]
    if (code / "requirements.txt").exists():
        return
    assert resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    assert f"build-{logical_id}:" in (code / "Makefile").read_text()


@pytest.mark.parametrize(
    "logical_id",
    sorted(i for i, r in FUNCTIONS.items() if r.get("Metadata", {}).get("BuildMethod") == "makefile"),
)
def test_a_makefile_build_ships_every_python_file_of_the_function(logical_id: str, tmp_path: Path) -> None:
    code = ROOT / FUNCTIONS[logical_id]["Properties"]["CodeUri"]

    subprocess.run(
        ["make", "-s", "-C", str(code), f"build-{logical_id}", f"ARTIFACTS_DIR={tmp_path}"],
        check=True,
        capture_output=True,
        timeout=60,
    )

    shipped = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.py"))
    assert shipped == sorted(path.relative_to(code) for path in code.rglob("*.py"))
