"""The Serverless transform, offline: the CloudFormation template `sam deploy` would submit.

aws-sam-translator runs with no managed-policy lookup and no network. Local CodeUri / ContentUri /
DefinitionUri paths are packaged first, as `sam package` would: each becomes a placeholder S3 location
recorded in `Translated.artifacts` (the deployer maps it back to the local directory), or, for readers that
judge a state machine's definition, the ASL file is inlined as `Definition`.
"""

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3

from sandbox.cloudformation.errors import DeployError

ARTIFACT_BUCKET: Final = "sandbox-local-artifacts"
_LOCAL_URI_PROPERTIES: Final = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}

TemplateTransform = Callable[[dict[str, Any]], dict[str, Any]]
# Transforms CloudFormation applies before the Serverless transform, in order, to the template as written.
PRE_TRANSLATION: Final[tuple[TemplateTransform, ...]] = ()


@dataclass
class Translated:
    template: dict[str, Any]
    artifacts: dict[str, Path]
    sam_resources: dict[str, str]


def load(path: Path) -> dict[str, Any]:
    """The template as written, CloudFormation tags decoded by the SAM translator's own YAML loader."""
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    document = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise DeployError(f"{path} is not a template with Resources")
    return document


def translate(
    written: Mapping[str, Any],
    parameters: Mapping[str, Any],
    *,
    base: Path,
    region: str,
    inline_definitions: bool = False,
    source: str = "the template",
) -> Translated:
    """The template after the pre-translation transforms, local packaging and the Serverless transform."""
    # Imported on first use: the translator is slow to import and most sandbox uses never translate.
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics  # type: ignore[import-untyped]
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    template = copy.deepcopy(dict(written))
    for transform in PRE_TRANSLATION:
        template = transform(template)
    sam_resources = {logical_id: str(r.get("Type", "")) for logical_id, r in template["Resources"].items()}
    artifacts = _package(template, base, inline_definitions=inline_definitions)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics)
    try:
        translated: dict[str, Any] = translator.translate(
            template, dict(parameters), get_managed_policy_map=dict, passthrough_metadata=True
        )
    except Exception as error:
        raise DeployError(f"SAM translation of {source} failed: {error}") from error
    finally:
        metrics.publish()
    return Translated(translated, artifacts, sam_resources)


_TRANSLATIONS: dict[tuple[str, str, str, str], Translated] = {}


def translate_file(path: Path, parameters: Mapping[str, Any], *, region: str) -> Translated:
    """`translate` of a template file, cached per content, parameters and Region: the translator is slow
    (pure-Python YAML and SAM plugins) and most tests deploy the same template."""
    key = (
        str(path.resolve()),
        hashlib.sha256(path.read_bytes()).hexdigest(),
        json.dumps(dict(parameters), sort_keys=True, default=str),
        region,
    )
    if key not in _TRANSLATIONS:
        _TRANSLATIONS[key] = translate(
            load(path), parameters, base=path.parent, region=region, source=str(path)
        )
    return copy.deepcopy(_TRANSLATIONS[key])


def _package(template: dict[str, Any], base: Path, *, inline_definitions: bool) -> dict[str, Path]:
    artifacts: dict[str, Path] = {}
    globals_function = template.get("Globals", {}).get("Function", {})
    for logical_id, resource in template["Resources"].items():
        resource_type = resource.get("Type", "")
        prop = _LOCAL_URI_PROPERTIES.get(resource_type)
        if prop is None:
            continue
        properties = resource.setdefault("Properties", {})
        uri = properties.get(prop)
        if uri is None and resource_type == "AWS::Serverless::Function":
            uri = globals_function.get("CodeUri")
        if uri is None and "InlineCode" in properties:
            continue
        if isinstance(uri, str) and not uri.startswith("s3://"):
            local = (base / uri).resolve()
            if not local.exists():
                raise DeployError(f"{logical_id}: {prop} {uri!r} does not exist ({local})")
            if inline_definitions and prop == "DefinitionUri":
                properties.pop(prop)
                properties["Definition"] = json.loads(local.read_text(encoding="utf-8"))
                continue
            key = f"{logical_id}/{local.name}"
            artifacts[key] = local
            properties[prop] = f"s3://{ARTIFACT_BUCKET}/{key}"
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function.pop("CodeUri")
    return artifacts
