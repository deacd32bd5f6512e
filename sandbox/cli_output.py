"""What an operator command (`replay`, `demo`) shows: its own output, and where everything else goes.

In Lambda the handler's stdout is its log stream: Powertools writes its JSON log lines and its EMF
metric documents there. Run in-process, they would land among the command's output, so by default
they go to a log file and Python logging reaches stderr at WARNING; `-v` sends both to stderr, with
INFO logs and stack traces.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Final, TextIO

LOG_DIRECTORY: Final = Path(__file__).resolve().parent.parent / "build" / "sandbox"
# Every sandbox client reads the sandbox's fake keys from the environment; botocore says so at INFO.
_CHATTY_LOGGERS: Final = ("botocore.credentials",)


def default_log_file(command: str) -> Path:
    return LOG_DIRECTORY / f"{command}.log"


def add_output_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """-v and --log-file, the same for every operator command."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="the handler's logs and metrics, INFO logs and stack traces on stderr",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=default_log_file(command),
        help=f"where the handler's logs and metrics go without -v (default build/sandbox/{command}.log)",
    )


@contextmanager
def stdout_to(target: TextIO) -> Iterator[TextIO]:
    """Sends file descriptor 1 and sys.stdout to `target` (a stream with a descriptor); yields a stream
    on the real stdout. Both, because a stream bound to sys.stdout need not write through descriptor 1."""
    sys.stdout.flush()
    target.flush()
    saved = os.dup(1)
    os.dup2(target.fileno(), 1)
    real_stdout = os.fdopen(saved, "w", encoding="utf-8", closefd=True)
    try:
        with redirect_stdout(target):
            yield real_stdout
    finally:
        sys.stdout.flush()
        target.flush()
        os.dup2(real_stdout.fileno(), 1)
        real_stdout.close()


@contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    with stdout_to(sys.stderr) as real_stdout:
        yield real_stdout


def configure_logging(*, verbose: bool, stream: TextIO | None = None) -> None:
    """Python logging to `stream` (default stderr), INFO with `verbose` else WARNING (a no-op where
    logging is already configured, as under pytest); botocore's credential notices never."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=stream or sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _stop_logging_to(stream: TextIO) -> None:
    """Records logged after the command's end (by a thread winding down) go nowhere, not to stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
            root.removeHandler(handler)
            root.addHandler(logging.NullHandler())


@contextmanager
def operator_output(*, verbose: bool, log_file: Path) -> Iterator[TextIO]:
    """Logging configured, the handler's stdout sent to stderr (`verbose`) or to `log_file`; yields
    the stream for the command's own output."""
    if verbose:
        configure_logging(verbose=True)
        with stdout_to_stderr() as real_stdout:
            yield real_stdout
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # The log file gets the log records too: threads still winding down (an execution, a retry) must
    # not print on the operator's terminal.
    with log_file.open("w", encoding="utf-8") as log, stdout_to(log) as real_stdout:
        configure_logging(verbose=False, stream=log)
        try:
            yield real_stdout
        finally:
            _stop_logging_to(log)
