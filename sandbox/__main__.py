"""`python -m sandbox <command>`: replay (an event through the real handler), audit (the emulator's CLI)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = """usage: python -m sandbox <command> [arguments]

commands:
  replay [-v] [--mode Enforce|DryRun] [--no-seed] <event.json>
                                                run one event through AuditEventsFunction in a fresh sandbox
  audit ...                                     the Device Defender emulator's audit command (see: audit --help)
  demo [-v]                                     audit the workshop fleet and watch the workflow remediate it

-v puts the handler's logs and metrics, INFO logs and stack traces on stderr (else: build/sandbox/<command>.log).
"""


def _replay(argv: Sequence[str]) -> int:
    from sandbox.replay import main

    return main(argv)


def _audit(argv: Sequence[str]) -> int:
    from sandbox.audit_cli import main  # type: ignore[import-not-found, unused-ignore]

    return int(main(list(argv)) or 0)


def _demo(argv: Sequence[str]) -> int:
    from sandbox.demo import main

    return main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"replay": _replay, "audit": _audit, "demo": _demo}


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
