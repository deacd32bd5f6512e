"""template.yaml as CloudFormation sees it after the Serverless transform (implicit resources included).

`python -m tools.sam_template [template.yaml] > out.json` writes the translated template, so checkov and the
template policy tests judge the roles, permissions and state machine that SAM actually generates.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
SANDBOX_REGION = "us-east-1"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written, CloudFormation tags decoded by the SAM translator's own YAML loader."""
    document: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return document


def inline_local_artifacts(template: dict[str, Any], root: Path = TEMPLATE.parent) -> dict[str, Any]:
    """What `sam package` would do, offline: code paths become S3 placeholders, the ASL file is inlined."""
    inlined: dict[str, Any] = json.loads(json.dumps(template))
    for logical_id, resource in inlined.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://local-artifacts/{logical_id}/{properties[key]}"
        definition_uri = properties.get("DefinitionUri")
        if isinstance(definition_uri, str) and not definition_uri.startswith("s3://"):
            properties["Definition"] = json.loads((root / properties.pop("DefinitionUri")).read_text("utf-8"))
    return inlined


def translate(template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Expand the Serverless transform offline: no managed-policy lookup, pseudo-parameters of the sandbox."""
    translator = Translator(
        managed_policy_map={},
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=SANDBOX_REGION),
    )
    translated: dict[str, Any] = translator.translate(
        sam_template=inline_local_artifacts(template),
        parameter_values=dict(parameter_values or {}),
        passthrough_metadata=True,
    )
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    arguments = parser.parse_args(argv)
    json.dump(translate(load(arguments.template)), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
