"""template.yaml as CloudFormation sees it after the Serverless transform (implicit resources included).

`python -m tools.sam_template [template.yaml] > out.json` writes the translated template, so checkov and the
template policy tests judge the roles, permissions and state machine that SAM actually generates. The
translation is the sandbox deployer's (`sandbox.cloudformation.sam`), with each ASL file inlined as the state
machine's `Definition` so that its text can be judged too.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sandbox.cloudformation import sam

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
SANDBOX_REGION = "us-east-1"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written, CloudFormation tags decoded by the SAM translator's own YAML loader."""
    return sam.load(path)


def translate(template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Expand the Serverless transform offline: no managed-policy lookup, pseudo-parameters of the sandbox."""
    return sam.translate(
        template,
        parameter_values or {},
        base=TEMPLATE.parent,
        region=SANDBOX_REGION,
        inline_definitions=True,
    ).template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    arguments = parser.parse_args(argv)
    json.dump(translate(load(arguments.template)), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
