"""The Makefile is the project's interface: `make help` lists every target and each phony target exists."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
# A rule line (`name: prerequisites ## help`), not a variable (`NAME := value`, `NAME ?= value`).
RULE = re.compile(r"^([A-Za-z0-9_.-]+):(?![:=])(.*)$", re.MULTILINE)


def rules() -> dict[str, str]:
    """Each target the Makefile defines, with the rest of its rule line; file targets left out."""
    return {name: rest for name, rest in RULE.findall(MAKEFILE) if name != ".PHONY" and "/" not in name}


def phony() -> set[str]:
    declaration = re.search(r"^\.PHONY:(.*?)(?<!\\)$", MAKEFILE, re.MULTILINE | re.DOTALL)
    assert declaration is not None
    return set(declaration.group(1).replace("\\\n", " ").split())


def test_every_target_is_phony_and_every_phony_target_is_defined() -> None:
    assert set(rules()) == phony()


def test_every_target_has_a_help_line_and_make_help_lists_it() -> None:
    undocumented = [name for name, rest in rules().items() if "## " not in rest]
    assert undocumented == []
    listed = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    shown = {line.split()[1] for line in listed.splitlines() if line.startswith("  make ")}
    assert shown == set(rules())
