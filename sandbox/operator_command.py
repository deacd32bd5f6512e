"""One `remediator` command run as the sandbox's operator, as the demo shows it: the command line, what it
printed and its exit status."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from remediator_cli.app import app
from sandbox.operator_account import SandboxAccount


@dataclass(frozen=True)
class OperatorCommand:
    command: str
    output: str
    exit_code: int


# rich sizes its tables to COLUMNS, 80 when the output is no terminal: too narrow for task ids.
WIDTH = "160"


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def run_operator_command(sandbox: Any, arguments: Sequence[str]) -> OperatorCommand:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), _columns(WIDTH):
        code = app(list(arguments), obj=SandboxAccount(sandbox), standalone_mode=False)
    return OperatorCommand(
        command="remediator " + " ".join(arguments),
        output=printed.getvalue().strip(),
        exit_code=int(code or 0),
    )
