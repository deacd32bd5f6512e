"""Runs every benchmark module's `run()` and prints its figures; `python -m bench core` runs one."""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from sandbox.cli_output import stdout_to_stderr

MODULES = ("core", "workflow", "analysis", "resource_state", "slots", "load")
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> int:
    names = argv or list(MODULES)
    results: dict[str, Any] = {}
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"bench.{name}":
                raise
            print(f"bench {name}: not present, skipped", file=sys.stderr)
            continue
        print(f"== {name}", flush=True)
        # The handler's structured logs go to stdout in Lambda; here they would bury the figures.
        with stdout_to_stderr() as figures_out:
            results[name] = module.run()
            figures_out.flush()
        for key, value in results[name].items():
            print(f"  {key}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
