"""Creates a SAM template's resources in the sandbox, the way CloudFormation would.

The template goes through aws-sam-translator offline (bundled managed-policy map, no network);
local CodeUri / ContentUri / DefinitionUri paths are swapped for placeholder S3 locations first,
as `sam validate` does, and mapped back to the local directories when the resources are created.
Intrinsic functions, conditions, parameters and pseudo parameters are resolved here, resources are
created in dependency order through boto3 (moto, or the Device Defender emulator for the IoT audit
APIs), and every function is registered with the in-process Lambda runner.

A resource type without a handler in RESOURCE_HANDLERS is an error naming the type.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import boto3
import botocore
import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from sandbox.lambdas import FunctionSpec, LambdaRunner
from sandbox.name_limits import NAME_MEMBERS, NameTooLongError, check_name
from sandbox.stepfunctions import to_api_members
from tools.cloudformation_checks import CLOUDFORMATION_CHECK_PROPERTIES

LOG = logging.getLogger(__name__)

ARTIFACT_BUCKET: Final = "sandbox-local-artifacts"
_LOCAL_URI_PROPERTIES: Final = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}
_PSEUDO_PARAMETERS: Final = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NotificationARNs",
        "AWS::NoValue",
    }
)
_SUBSTITUTION: Final = re.compile(r"\$\{([^}]*)\}")
AUDIT_CHECK_NAMES: Final = CLOUDFORMATION_CHECK_PROPERTIES
_AUDIT_CHECK_CONFIGURATION_NAMES: Final = {
    "CertAgeThresholdInDays": "CERT_AGE_THRESHOLD_IN_DAYS",
    "CertExpirationThresholdInDays": "CERT_EXPIRATION_THRESHOLD_IN_DAYS",
}


class DeployError(Exception):
    """The template cannot be deployed into the sandbox."""


class UnsupportedResourceTypeError(DeployError):
    """The template uses a resource type the sandbox cannot create."""


class PhysicalNameTooLongError(DeployError):
    """A resource's name is longer than its service accepts (the create call's validation error)."""


# botocore's cloudformation model, CreateStack StackName: alphanumerics and hyphens, starting with a letter,
# at most 128 characters.
_STACK_NAME: Final = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


@dataclass
class Stack:
    """A deployed template: what CloudFormation's DescribeStacks / ListStackResources would say."""

    name: str
    stack_id: str
    template_path: Path
    parameters: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    resource_types: dict[str, str] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self.attributes[logical_id][attribute]


@dataclass
class Created:
    """What a resource handler returns: the Ref value and the Fn::GetAtt attributes."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


ResourceHandler = Callable[["Deployment", str, dict[str, Any]], Created]
RESOURCE_HANDLERS: dict[str, ResourceHandler] = {}
EMULATED_RESOURCE_TYPES: Final = frozenset(
    {"AWS::IoT::MitigationAction", "AWS::IoT::ScheduledAudit", "AWS::IoT::AccountAuditConfiguration"}
)


def resource_handler(*resource_types: str) -> Callable[[ResourceHandler], ResourceHandler]:
    def register(handler: ResourceHandler) -> ResourceHandler:
        for resource_type in resource_types:
            RESOURCE_HANDLERS[resource_type] = handler
        return handler

    return register


def supported_resource_types() -> frozenset[str]:
    return frozenset(RESOURCE_HANDLERS)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


# --- translation ----------------------------------------------------------------------------------


@dataclass
class Translated:
    template: dict[str, Any]
    artifacts: dict[str, Path]
    sam_resources: dict[str, str]


_TRANSLATIONS: dict[tuple[str, str, str, str], Translated] = {}


def translate(template_path: Path, parameters: Mapping[str, Any], *, region: str) -> Translated:
    """The CloudFormation template `sam deploy` would submit, with local paths recorded.

    Translations are cached per template content, parameters and Region: the translator is slow
    (pure-Python YAML and SAM plugins) and most tests deploy the same template."""
    text = template_path.read_text()
    key = (
        str(template_path.resolve()),
        hashlib.sha256(text.encode()).hexdigest(),
        json.dumps(dict(parameters), sort_keys=True, default=str),
        region,
    )
    if key not in _TRANSLATIONS:
        _TRANSLATIONS[key] = _translate(template_path, text, parameters, region=region)
    return copy.deepcopy(_TRANSLATIONS[key])


def _translate(template_path: Path, text: str, parameters: Mapping[str, Any], *, region: str) -> Translated:
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics  # type: ignore[import-untyped]
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    template = yaml_parse(text)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise DeployError(f"{template_path} is not a template with Resources")
    base = template_path.parent
    artifacts: dict[str, Path] = {}
    globals_function = template.get("Globals", {}).get("Function", {})
    sam_resources: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        resource_type = resource.get("Type", "")
        sam_resources[logical_id] = resource_type
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
            key = f"{logical_id}/{local.name}"
            artifacts[key] = local
            properties[prop] = f"s3://{ARTIFACT_BUCKET}/{key}"
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function.pop("CodeUri")
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics)
    try:
        translated = translator.translate(
            copy.deepcopy(template), dict(parameters), get_managed_policy_map=dict
        )
    except Exception as error:
        raise DeployError(f"SAM translation of {template_path} failed: {error}") from error
    finally:
        metrics.publish()
    return Translated(translated, artifacts, sam_resources)


# --- deployment -----------------------------------------------------------------------------------


class Deployment:
    """One stack being created: resolves intrinsics and runs the handlers in dependency order."""

    def __init__(
        self,
        *,
        template_path: Path,
        stack_name: str,
        parameters: Mapping[str, Any],
        region: str,
        account_id: str,
        lambdas: LambdaRunner,
        emulator_available: bool,
        workdir: Path | None = None,
    ) -> None:
        self.template_path = template_path.resolve()
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.lambdas = lambdas
        self.emulator_available = emulator_available
        digest = hashlib.sha1(f"{stack_name}{template_path}".encode(), usedforsecurity=False).hexdigest()
        self.stack_id = (
            f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
            f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        )
        self.requested_parameters = dict(parameters)
        self.parameters: dict[str, Any] = {}
        self.conditions: dict[str, bool] = {}
        self.physical_ids: dict[str, str] = {}
        self.attributes: dict[str, dict[str, Any]] = {}
        self.layer_dirs: dict[str, Path] = {}
        self.artifacts: dict[str, Path] = {}
        self.template: dict[str, Any] = {}
        self._workdir = workdir
        self.after_deploy: list[Callable[[], Any]] = []

    # --- entry point ------------------------------------------------------------------------------

    def run(self) -> Stack:
        if _STACK_NAME.fullmatch(self.stack_name) is None:
            raise DeployError(
                f"stack name {self.stack_name!r}: letters, digits and hyphens, starting with a letter, "
                "at most 128 characters"
            )
        translated = translate(self.template_path, self.requested_parameters, region=self.region)
        self.template = translated.template
        self.artifacts = translated.artifacts
        self._resolve_parameters(self.template.get("Parameters", {}))
        self._evaluate_conditions(self.template.get("Conditions", {}))
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        active = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if "Condition" not in resource or self._condition(resource["Condition"])
        }
        unsupported = sorted(
            {
                f"{r.get('Type')} ({logical_id})"
                for logical_id, r in active.items()
                if r.get("Type") not in RESOURCE_HANDLERS
            }
        )
        if unsupported:
            raise UnsupportedResourceTypeError(
                f"{self.template_path.name}: the sandbox deployer cannot create these resource types: "
                + ", ".join(unsupported)
            )
        stack = Stack(
            name=self.stack_name,
            stack_id=self.stack_id,
            template_path=self.template_path,
            parameters=dict(self.parameters),
            template=self.template,
        )
        for logical_id in self._creation_order(active):
            resource = active[logical_id]
            resource_type = resource["Type"]
            if resource_type in EMULATED_RESOURCE_TYPES and not self.emulator_available:
                raise UnsupportedResourceTypeError(
                    f"{logical_id}: {resource_type} needs the Device Defender emulator "
                    "(sandbox.device_defender), which is not available"
                )
            properties = self.resolve(resource.get("Properties", {}))
            self._check_name(logical_id, resource_type, properties)
            try:
                created = RESOURCE_HANDLERS[resource_type](self, logical_id, properties)
            except DeployError:
                raise
            except Exception as error:
                raise DeployError(
                    f"{logical_id} ({resource_type}): {type(error).__name__}: {error}"
                ) from error
            self.physical_ids[logical_id] = created.physical_id
            self.attributes[logical_id] = created.attributes
            stack.resource_types[logical_id] = resource_type
            LOG.debug("created %s %s = %s", resource_type, logical_id, created.physical_id)
        for action in self.after_deploy:
            action()
        self._alias_sam_ids(translated.sam_resources, stack)
        stack.physical_ids = dict(self.physical_ids)
        stack.attributes = {k: dict(v) for k, v in self.attributes.items()}
        for name, output in self.template.get("Outputs", {}).items():
            if "Condition" in output and not self._condition(output["Condition"]):
                continue
            stack.outputs[name] = self.resolve(output["Value"])
        return stack

    def _check_name(self, logical_id: str, resource_type: str, properties: Mapping[str, Any]) -> None:
        member = NAME_MEMBERS.get(resource_type)
        name = properties.get(member.property_name) if member else None
        if isinstance(name, str):
            try:
                check_name(logical_id, resource_type, name, self.stack_name)
            except NameTooLongError as error:
                raise PhysicalNameTooLongError(str(error)) from error

    def _alias_sam_ids(self, sam_resources: Mapping[str, str], stack: Stack) -> None:
        # SAM renames some resources (a LayerVersion gets a content hash); keep the template's id too.
        for logical_id, sam_type in sam_resources.items():
            if logical_id in self.physical_ids or not sam_type.startswith("AWS::Serverless::"):
                continue
            renamed = [
                candidate
                for candidate in self.physical_ids
                if candidate.startswith(logical_id)
                and re.fullmatch(r"[0-9a-f]{10}", candidate[len(logical_id) :])
            ]
            if len(renamed) == 1:
                self.physical_ids[logical_id] = self.physical_ids[renamed[0]]
                self.attributes[logical_id] = self.attributes[renamed[0]]
                stack.resource_types[logical_id] = stack.resource_types[renamed[0]]

    # --- parameters and conditions ----------------------------------------------------------------

    def _resolve_parameters(self, declared: Mapping[str, Any]) -> None:
        unknown = sorted(set(self.requested_parameters) - set(declared))
        if unknown:
            raise DeployError(f"Parameters {unknown} do not exist in the template")
        for name, declaration in declared.items():
            if name in self.requested_parameters:
                raw = self.requested_parameters[name]
            elif "Default" in declaration:
                raw = declaration["Default"]
            else:
                raise DeployError(f"Parameters: [{name}] must have values")
            self.parameters[name] = self._typed_parameter(name, declaration, raw)

    @staticmethod
    def _typed_parameter(name: str, declaration: Mapping[str, Any], raw: Any) -> Any:
        parameter_type = declaration.get("Type", "String")
        text = "true" if raw is True else "false" if raw is False else str(raw)
        allowed = declaration.get("AllowedValues")
        if parameter_type == "String":
            if allowed is not None and text not in [str(a) for a in allowed]:
                raise DeployError(f"Parameter {name} must be one of {allowed}, got {text!r}")
            pattern = declaration.get("AllowedPattern")
            if pattern is not None and re.fullmatch(pattern, text) is None:
                raise DeployError(f"Parameter {name} must match {pattern}, got {text!r}")
            return text
        if parameter_type == "Number":
            try:
                number = float(text)
            except ValueError as error:
                raise DeployError(f"Parameter {name} must be a number, got {text!r}") from error
            for bound, check in (("MinValue", number.__lt__), ("MaxValue", number.__gt__)):
                if bound in declaration and check(float(declaration[bound])):
                    raise DeployError(f"Parameter {name}={text} violates {bound} {declaration[bound]}")
            if allowed is not None and number not in [float(a) for a in allowed]:
                raise DeployError(f"Parameter {name} must be one of {allowed}, got {text!r}")
            return text
        if parameter_type in ("CommaDelimitedList", "List<Number>", "List<String>"):
            return [item.strip() for item in text.split(",")] if text else []
        raise DeployError(f"Parameter {name}: type {parameter_type} is not supported by the sandbox")

    def _evaluate_conditions(self, declared: Mapping[str, Any]) -> None:
        self._declared_conditions = dict(declared)
        for name in declared:
            self._condition(name)

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            declared = getattr(self, "_declared_conditions", {})
            if name not in declared:
                raise DeployError(f"Condition {name} is not declared")
            self.conditions[name] = self._condition_value(declared[name])
        return bool(self.conditions[name])

    def _condition_value(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise DeployError(f"not a condition: {expression!r}")
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self._condition(argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return bool(_condition_text(left) == _condition_text(right))
        if function == "Fn::Not":
            return not self._condition_value(argument[0])
        if function == "Fn::And":
            return all(self._condition_value(a) for a in argument)
        if function == "Fn::Or":
            return any(self._condition_value(a) for a in argument)
        raise DeployError(f"unsupported condition function {function}")

    # --- intrinsic functions ----------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self._condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in _PSEUDO_PARAMETERS:
            return self._pseudo(name)
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise DeployError(f"Ref {name}: no such parameter or (created) resource")

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }[name]

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.attributes:
            raise DeployError(f"Fn::GetAtt {logical_id}.{attribute}: no such (created) resource")
        attributes = self.attributes[logical_id]
        if attribute not in attributes:
            raise DeployError(
                f"Fn::GetAtt {logical_id}.{attribute}: the sandbox knows {sorted(attributes)} for this resource"
            )
        return attributes[attribute]

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(logical_id, self._resolve(attribute))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(_text(item) for item in self._resolve(items))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self._resolve(when_true if self._condition(condition) else when_false)
        if name == "Fn::Select":
            index, items = self._resolve(argument)
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = self._resolve(argument)
            return str(text).split(str(delimiter))
        if name == "Fn::Base64":
            return base64.b64encode(str(self._resolve(argument)).encode()).decode()
        if name == "Fn::FindInMap":
            map_name, top, second = self._resolve(argument)
            return self.template["Mappings"][map_name][top][second]
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abcdef"]
        if name == "Fn::ToJsonString":
            return json.dumps(self._resolve(argument), separators=(",", ":"))
        if name == "Fn::Length":
            return len(self._resolve(argument))
        if name in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
            return self._condition_value({name: argument})
        raise DeployError(f"intrinsic function {name} is not supported by the sandbox")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self._resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return _text(variables[expression])
            if "." in expression and expression.split(".", 1)[0] not in _PSEUDO_PARAMETERS:
                logical_id, attribute = expression.split(".", 1)
                return _text(self._get_att(logical_id, attribute))
            return _text(self._ref(expression))

        return _SUBSTITUTION.sub(replace, str(text))

    # --- ordering ---------------------------------------------------------------------------------

    def _creation_order(self, resources: Mapping[str, dict[str, Any]]) -> list[str]:
        dependencies = {
            logical_id: self._dependencies(resource) & set(resources)
            for logical_id, resource in resources.items()
        }
        order: list[str] = []
        done: set[str] = set()
        visiting: list[str] = []

        def visit(logical_id: str) -> None:
            if logical_id in done:
                return
            if logical_id in visiting:
                cycle = [*visiting[visiting.index(logical_id) :], logical_id]
                raise DeployError(f"circular dependency: {' -> '.join(cycle)}")
            visiting.append(logical_id)
            for dependency in sorted(dependencies[logical_id], key=list(resources).index):
                visit(dependency)
            visiting.pop()
            done.add(logical_id)
            order.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return order

    def _dependencies(self, resource: Mapping[str, Any]) -> set[str]:
        found: set[str] = set()
        depends_on = resource.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        found.update(_references(resource.get("Properties", {})))
        return found

    # --- helpers for handlers ---------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return _client(service, self.region, self.account_id)

    def physical_name(self, logical_id: str, *, max_length: int = 255, stack_prefix: bool = True) -> str:
        """CloudFormation's generated names: <stack>-<LogicalId>-<SUFFIX>, stable per stack and resource."""
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode(), usedforsecurity=False).hexdigest()
        suffix = suffix[:12].upper()
        prefix = f"{self.stack_name}-{logical_id}" if stack_prefix else logical_id
        return f"{prefix[: max_length - len(suffix) - 1]}-{suffix}"

    def artifact(self, bucket: str, key: str) -> Path:
        if bucket != ARTIFACT_BUCKET or key not in self.artifacts:
            raise DeployError(
                f"s3://{bucket}/{key}: the sandbox only reads local CodeUri/ContentUri/DefinitionUri"
            )
        return self.artifacts[key]

    def scratch_dir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="sandbox-stack-"))
        return self._workdir


_SESSIONS: dict[str, boto3.session.Session] = {}
_CLIENTS: dict[tuple[str, str, str], Any] = {}


def _client(service: str, region: str, account_id: str) -> Any:
    """The deployer's clients outlive a sandbox: creating clients is a large part of a deploy.
    They carry moto's and the sandbox's hooks, which act only while a sandbox is open."""
    key = (service, region, account_id)
    if key not in _CLIENTS:
        session = _SESSIONS.get(account_id)
        if session is None:
            session = _SESSIONS[account_id] = boto3.session.Session()
            default = boto3.DEFAULT_SESSION
            if default is not None:
                session._session.register_component(
                    "data_loader", default._session.get_component("data_loader")
                )
        _CLIENTS[key] = session.client(service, region_name=region)  # type: ignore[call-overload]
    return _CLIENTS[key]


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                yield argument
                return
            if key == "Fn::GetAtt":
                yield (argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
                return
            if key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                variables = argument[1] if isinstance(argument, list) else {}
                for expression in _SUBSTITUTION.findall(str(text)):
                    if not expression.startswith("!") and expression not in variables:
                        yield expression.split(".", 1)[0]
                yield from _references(variables)
                return
        for item in value.values():
            yield from _references(item)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _condition_text(value: Any) -> Any:
    return [_text(v) for v in value] if isinstance(value, list) else _text(value)


def _attribute_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return _text(value)


def _tags(properties: Mapping[str, Any], *, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: str(tag["Key"]), value: str(tag["Value"])} for tag in properties.get("Tags", [])]


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("SANDBOX.txt", "The sandbox runs this function in-process from its CodeUri.\n")
    return buffer.getvalue()


@cache
def _input_shape(service: str, operation: str) -> StructureShape:
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def cfn_to_api(
    properties: Mapping[str, Any], service: str, operation: str, *, drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """CloudFormation properties -> API parameters: member names from the service model, scalars typed."""
    kept = {key: value for key, value in properties.items() if key not in drop}
    shape = _input_shape(service, operation)
    return _coerce(to_api_members(kept, shape), shape)  # type: ignore[no-any-return]


def _coerce(value: Any, shape: Shape | None) -> Any:
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {key: _coerce(item, shape.members.get(key)) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    if isinstance(shape, MapShape) and isinstance(value, list):
        # CloudFormation writes tag maps as [{Key, Value}] lists.
        return {str(item["Key"]): _coerce(item["Value"], shape.value) for item in value}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_coerce(item, shape.member) for item in value]
    if shape.type_name in ("integer", "long") and isinstance(value, str):
        return int(value)
    if shape.type_name in ("double", "float") and isinstance(value, str | int):
        return float(value)
    if shape.type_name == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if shape.type_name == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    if shape.type_name == "string" and not isinstance(value, str):
        return _text(value)
    return value


# --- resource handlers ----------------------------------------------------------------------------


@resource_handler("AWS::SNS::Topic")
def _sns_topic(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    fifo = _text(p.get("FifoTopic", "false")) == "true"
    name = p.get("TopicName") or d.physical_name(logical_id, max_length=251 if fifo else 256)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attribute_names = (
        "DisplayName",
        "KmsMasterKeyId",
        "FifoTopic",
        "ContentBasedDeduplication",
        "SignatureVersion",
        "TracingConfig",
        "ArchivePolicy",
        "FifoThroughputScope",
    )
    attributes = {key: _attribute_text(p[key]) for key in attribute_names if key in p}
    arn = d.client("sns").create_topic(Name=name, Attributes=attributes, Tags=_tags(p))["TopicArn"]
    if "DataProtectionPolicy" in p:
        d.client("sns").put_data_protection_policy(
            ResourceArn=arn, DataProtectionPolicy=json.dumps(p["DataProtectionPolicy"])
        )
    for subscription in p.get("Subscription", []):
        d.client("sns").subscribe(
            TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
        )
    return Created(arn, {"TopicArn": arn, "TopicName": name})


@resource_handler("AWS::SNS::TopicPolicy", "AWS::SNS::TopicInlinePolicy")
def _sns_topic_policy(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    topics = p.get("Topics") or [p["TopicArn"]]
    for topic in topics:
        d.client("sns").set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(p["PolicyDocument"])
        )
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::SNS::Subscription")
def _sns_subscription(d: Deployment, _logical_id: str, p: dict[str, Any]) -> Created:
    attribute_names = (
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
    )
    attributes = {key: _attribute_text(p[key]) for key in attribute_names if key in p}
    arn = d.client("sns").subscribe(
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Created(arn, {"Arn": arn})


@resource_handler("AWS::SQS::Queue")
def _sqs_queue(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    fifo = _text(p.get("FifoQueue", "false")) == "true"
    name = p.get("QueueName") or d.physical_name(logical_id, max_length=75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: _attribute_text(value) for key, value in p.items() if key not in ("QueueName", "Tags")}
    tags = {tag["Key"]: tag["Value"] for tag in _tags(p)}
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


@resource_handler("AWS::SQS::QueuePolicy")
def _sqs_queue_policy(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    for url in p["Queues"]:
        d.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
        )
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::DynamoDB::Table")
def _dynamodb_table(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("TableName") or d.physical_name(logical_id)
    if "SSESpecification" in p:
        sse = dict(p["SSESpecification"])
        if "SSEEnabled" in sse:
            sse["Enabled"] = sse.pop("SSEEnabled")
        p["SSESpecification"] = sse
    if "BillingMode" not in p and "ProvisionedThroughput" not in p:
        p["BillingMode"] = "PROVISIONED"
        p["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    request = cfn_to_api(
        {**p, "TableName": name},
        "dynamodb",
        "CreateTable",
        drop=(
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "ContributorInsightsSpecification",
            "KinesisStreamSpecification",
            "ImportSourceSpecification",
            "ResourcePolicy",
        ),
    )
    dynamodb = d.client("dynamodb")
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and _text(ttl.get("Enabled", "false")) == "true":
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    recovery = p.get("PointInTimeRecoverySpecification")
    if recovery and _text(recovery.get("PointInTimeRecoveryEnabled", "false")) == "true":
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return Created(name, attributes)


@resource_handler("AWS::IAM::Role")
def _iam_role(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("RoleName") or d.physical_name(logical_id, max_length=64)
    iam = d.client("iam")
    request: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json.dumps(p["AssumeRolePolicyDocument"]),
        "Path": p.get("Path", "/"),
        "Tags": _tags(p),
    }
    for key in ("Description", "PermissionsBoundary"):
        if key in p:
            request[key] = p[key]
    if "MaxSessionDuration" in p:
        request["MaxSessionDuration"] = int(p["MaxSessionDuration"])
    role = iam.create_role(**request)["Role"]
    for policy_arn in p.get("ManagedPolicyArns", []):
        _ensure_aws_managed_policy(d, policy_arn)
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    for policy in p.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=_policy_document(policy["PolicyDocument"]),
        )
    return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _policy_document(document: Any) -> str:
    # IAM reads a document without Version as the 2008 language; moto rejects it, SAM omits it.
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return _attribute_text(document)


@cache
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def _ensure_aws_managed_policy(d: Deployment, policy_arn: str) -> None:
    """Loads one AWS managed policy into moto (loading all of them costs a second per sandbox)."""
    prefix = "arn:aws:iam::aws:policy/"
    if not policy_arn.startswith(prefix):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[d.account_id]["aws"]
    if policy_arn in backend.managed_policies:
        return
    name = policy_arn.rsplit("/", 1)[-1]
    data = _aws_managed_policy_data().get(name)
    if data is None:
        raise DeployError(f"{policy_arn} is not an AWS managed policy the sandbox knows")
    policy = AWSManagedPolicy.from_data(name, d.account_id, d.region, data)
    backend.managed_policies[policy.arn] = policy


@resource_handler("AWS::IAM::Policy")
def _iam_policy(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    iam = d.client("iam")
    document = _policy_document(p["PolicyDocument"])
    for role in p.get("Roles", []):
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users", []):
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups", []):
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::IAM::ManagedPolicy")
def _iam_managed_policy(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    iam = d.client("iam")
    request: dict[str, Any] = {
        "PolicyName": p.get("ManagedPolicyName") or d.physical_name(logical_id, max_length=128),
        "PolicyDocument": _policy_document(p["PolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    if "Description" in p:
        request["Description"] = p["Description"]
    arn = iam.create_policy(**request)["Policy"]["Arn"]
    for role in p.get("Roles", []):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users", []):
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups", []):
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    return Created(arn, {"PolicyArn": arn})


@resource_handler("AWS::KMS::Key")
def _kms_key(d: Deployment, _logical_id: str, p: dict[str, Any]) -> Created:
    kms = d.client("kms")
    request: dict[str, Any] = {"Tags": _tags(p, key="TagKey", value="TagValue")}
    if "KeyPolicy" in p:
        request["Policy"] = _attribute_text(p["KeyPolicy"])
    for key in ("Description", "KeyUsage", "KeySpec"):
        if key in p:
            request[key] = p[key]
    if "MultiRegion" in p:
        request["MultiRegion"] = _text(p["MultiRegion"]) == "true"
    metadata = kms.create_key(**request)["KeyMetadata"]
    key_id = metadata["KeyId"]
    if _text(p.get("EnableKeyRotation", "false")) == "true":
        kms.enable_key_rotation(KeyId=key_id)
    if _text(p.get("Enabled", "true")) == "false":
        kms.disable_key(KeyId=key_id)
    return Created(key_id, {"Arn": metadata["Arn"], "KeyId": key_id})


@resource_handler("AWS::KMS::Alias")
def _kms_alias(d: Deployment, _logical_id: str, p: dict[str, Any]) -> Created:
    d.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return Created(p["AliasName"])


@resource_handler("AWS::Logs::LogGroup")
def _log_group(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("LogGroupName") or d.physical_name(logical_id, max_length=512)
    logs = d.client("logs")
    request: dict[str, Any] = {"logGroupName": name}
    if "KmsKeyId" in p:
        request["kmsKeyId"] = p["KmsKeyId"]
    tags = {tag["Key"]: tag["Value"] for tag in _tags(p)}
    if tags:
        request["tags"] = tags
    logs.create_log_group(**request)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{d.region}:{d.account_id}:log-group:{name}:*"
    return Created(name, {"Arn": arn})


@resource_handler("AWS::Logs::MetricFilter")
def _metric_filter(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("FilterName") or d.physical_name(logical_id, max_length=512)
    d.client("logs").put_metric_filter(**cfn_to_api({**p, "FilterName": name}, "logs", "PutMetricFilter"))
    return Created(name)


@resource_handler("AWS::Lambda::LayerVersion")
def _layer_version(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    content = p["Content"]
    directory = d.artifact(content["S3Bucket"], content["S3Key"])
    name = p.get("LayerName") or d.physical_name(logical_id, max_length=140)
    request: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": _placeholder_zip()}}
    for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
        if key in p:
            request[key] = p[key]
    arn = d.client("lambda").publish_layer_version(**request)["LayerVersionArn"]
    d.layer_dirs[arn] = directory
    return Created(arn, {"LayerVersionArn": arn})


@resource_handler("AWS::Lambda::Function")
def _lambda_function(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("FunctionName") or d.physical_name(logical_id, max_length=64)
    code = p["Code"]
    if "ZipFile" in code:
        code_dir = d.scratch_dir() / logical_id
        code_dir.mkdir(parents=True, exist_ok=True)
        (code_dir / "index.py").write_text(code["ZipFile"])
    else:
        code_dir = d.artifact(code["S3Bucket"], code["S3Key"])
    if "Handler" not in p:
        raise DeployError(f"{logical_id}: only zip functions with a Handler can run in the sandbox")
    layer_arns: list[str] = list(p.get("Layers", []))
    unknown_layers = [arn for arn in layer_arns if arn not in d.layer_dirs]
    if unknown_layers:
        raise DeployError(f"{logical_id}: layers {unknown_layers} are not layers of this stack")
    environment = {key: _text(value) for key, value in p.get("Environment", {}).get("Variables", {}).items()}
    request = cfn_to_api(
        {**p, "FunctionName": name, "Code": {"ZipFile": _placeholder_zip()}},
        "lambda",
        "CreateFunction",
        drop=("Environment", "FileSystemConfigs", "RuntimeManagementConfig", "SnapStart", "Code"),
    )
    request["Code"] = {"ZipFile": _placeholder_zip()}
    request["Environment"] = {"Variables": environment}
    function = d.client("lambda").create_function(**request)
    d.lambdas.register(
        FunctionSpec(
            logical_id=logical_id,
            function_name=name,
            function_arn=function["FunctionArn"],
            handler=p["Handler"],
            code_dir=code_dir,
            layer_dirs=[d.layer_dirs[arn] for arn in layer_arns],
            environment=environment,
            memory_mb=int(p.get("MemorySize", 128)),
            timeout_seconds=int(p.get("Timeout", 3)),
            runtime=str(p.get("Runtime", "python3.12")),
        )
    )
    return Created(name, {"Arn": function["FunctionArn"]})


@resource_handler("AWS::Lambda::Permission")
def _lambda_permission(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    request = cfn_to_api({**p, "StatementId": logical_id}, "lambda", "AddPermission")
    d.client("lambda").add_permission(**request)
    return Created(logical_id)


@resource_handler("AWS::Lambda::EventInvokeConfig")
def _event_invoke_config(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    request = cfn_to_api(p, "lambda", "PutFunctionEventInvokeConfig")
    d.client("lambda").put_function_event_invoke_config(**request)
    destinations = p.get("DestinationConfig", {})
    changes: dict[str, Any] = {
        "on_failure_destination": destinations.get("OnFailure", {}).get("Destination"),
        "on_success_destination": destinations.get("OnSuccess", {}).get("Destination"),
    }
    if "MaximumRetryAttempts" in p:
        changes["maximum_retry_attempts"] = int(p["MaximumRetryAttempts"])
    if "MaximumEventAgeInSeconds" in p:
        changes["maximum_event_age_seconds"] = int(p["MaximumEventAgeInSeconds"])
    d.lambdas.update(p["FunctionName"], **changes)
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::Lambda::Version")
def _lambda_version(d: Deployment, _logical_id: str, p: dict[str, Any]) -> Created:
    version = d.client("lambda").publish_version(FunctionName=p["FunctionName"])
    return Created(version["FunctionArn"], {"Version": version["Version"]})


@resource_handler("AWS::Lambda::Alias")
def _lambda_alias(d: Deployment, _logical_id: str, p: dict[str, Any]) -> Created:
    alias = d.client("lambda").create_alias(
        FunctionName=p["FunctionName"], Name=p["Name"], FunctionVersion=_text(p["FunctionVersion"])
    )
    return Created(alias["AliasArn"])


@resource_handler("AWS::StepFunctions::StateMachine")
def _state_machine(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    if "DefinitionS3Location" in p:
        location = p["DefinitionS3Location"]
        definition = d.artifact(location["Bucket"], location["Key"]).read_text()
    elif "DefinitionString" in p:
        definition = str(p["DefinitionString"])
    elif "Definition" in p:
        definition = json.dumps(p["Definition"])
    else:
        raise DeployError(f"{logical_id}: no Definition, DefinitionString or DefinitionS3Location")
    definition = substitute_definition(definition, p.get("DefinitionSubstitutions", {}), logical_id)
    name = p.get("StateMachineName") or d.physical_name(logical_id, max_length=80, stack_prefix=False)
    request = cfn_to_api(
        {
            "Name": name,
            "Definition": definition,
            "RoleArn": p["RoleArn"],
            "Type": p.get("StateMachineType", "STANDARD"),
            "Tags": p.get("Tags", []),
        },
        "stepfunctions",
        "CreateStateMachine",
    )
    for key in ("LoggingConfiguration", "TracingConfiguration"):
        if key in p:
            request.update(cfn_to_api({key: p[key]}, "stepfunctions", "CreateStateMachine"))
    arn = d.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"})


def substitute_definition(definition: str, substitutions: Mapping[str, Any], logical_id: str = "") -> str:
    """CloudFormation's DefinitionSubstitutions: every ${Key} in the definition text is replaced."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return _text(substitutions[key]) if key in substitutions else match.group(0)

    result = _SUBSTITUTION.sub(replace, definition)
    leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", result)))
    if leftover:
        raise DeployError(
            f"{logical_id}: definition placeholders without DefinitionSubstitutions: {leftover}"
        )
    return result


@resource_handler("AWS::Events::Rule")
def _events_rule(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("Name") or d.physical_name(logical_id, max_length=64)
    events = d.client("events")
    request: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
    if "EventPattern" in p:
        request["EventPattern"] = _attribute_text(p["EventPattern"])
    for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
        if key in p:
            request[key] = p[key]
    arn = events.put_rule(**request)["RuleArn"]
    targets = cfn_to_api({"Targets": p.get("Targets", [])}, "events", "PutTargets")["Targets"]
    if targets:
        target_request: dict[str, Any] = {"Rule": name, "Targets": targets}
        if "EventBusName" in p:
            target_request["EventBusName"] = p["EventBusName"]
        events.put_targets(**target_request)
    return Created(name, {"Arn": arn})


@resource_handler("AWS::Scheduler::Schedule")
def _scheduler_schedule(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("Name") or d.physical_name(logical_id, max_length=64)
    request = cfn_to_api({**p, "Name": name}, "scheduler", "CreateSchedule")
    arn = d.client("scheduler").create_schedule(**request)["ScheduleArn"]
    if p.get("State", "ENABLED") == "ENABLED":
        d.after_deploy.append(lambda: run_schedule_target(d.region, p["Target"]))
    return Created(name, {"Arn": arn})


def run_schedule_target(region: str, target: Mapping[str, Any]) -> Any:
    """One firing of an EventBridge Scheduler target (universal aws-sdk targets, Lambda, SQS, SNS,
    Step Functions); the deployer fires each enabled schedule once, as its first run would."""
    arn = str(target["Arn"])
    payload = target.get("Input", "{}")
    parts = arn.split(":")
    if parts[2] == "scheduler" and parts[5].startswith("aws-sdk"):
        _, service, action = parts[5], parts[6], parts[7]
        from sandbox.stepfunctions import operation_model

        operation = operation_model(service, action)
        params = to_api_members(json.loads(payload), operation.input_shape)
        client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        return getattr(client, botocore.xform_name(operation.name))(**params)
    if parts[2] == "lambda":
        return boto3.client("lambda", region_name=region).invoke(
            FunctionName=arn, InvocationType="Event", Payload=payload.encode()
        )
    if parts[2] == "sqs":
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return sqs.send_message(QueueUrl=url, MessageBody=payload)
    if parts[2] == "sns":
        return boto3.client("sns", region_name=region).publish(TopicArn=arn, Message=payload)
    if parts[2] == "states":
        return boto3.client("stepfunctions", region_name=region).start_execution(
            stateMachineArn=arn, input=payload
        )
    raise DeployError(f"schedule target {arn} is not supported by the sandbox")


@resource_handler("AWS::CloudWatch::Alarm")
def _cloudwatch_alarm(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("AlarmName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_metric_alarm(
        **cfn_to_api({**p, "AlarmName": name}, "cloudwatch", "PutMetricAlarm")
    )
    return Created(name, {"Arn": f"arn:aws:cloudwatch:{d.region}:{d.account_id}:alarm:{name}"})


@resource_handler("AWS::CloudWatch::CompositeAlarm")
def _cloudwatch_composite_alarm(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("AlarmName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_composite_alarm(
        **cfn_to_api({**p, "AlarmName": name}, "cloudwatch", "PutCompositeAlarm")
    )
    return Created(name, {"Arn": f"arn:aws:cloudwatch:{d.region}:{d.account_id}:alarm:{name}"})


@resource_handler("AWS::CloudWatch::Dashboard")
def _cloudwatch_dashboard(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("DashboardName") or d.physical_name(logical_id)
    d.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=_attribute_text(p["DashboardBody"])
    )
    return Created(name)


@resource_handler("AWS::IoT::ThingGroup")
def _iot_thing_group(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    if "QueryString" in p:
        raise DeployError(f"{logical_id}: dynamic thing groups (QueryString) are not supported by moto")
    name = p.get("ThingGroupName") or d.physical_name(logical_id, max_length=128)
    group = d.client("iot").create_thing_group(
        **cfn_to_api({**p, "ThingGroupName": name}, "iot", "CreateThingGroup")
    )
    return Created(name, {"Arn": group["thingGroupArn"], "Id": group["thingGroupId"]})


@resource_handler("AWS::IoT::Thing")
def _iot_thing(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ThingName") or d.physical_name(logical_id, max_length=128)
    thing = d.client("iot").create_thing(**cfn_to_api({**p, "ThingName": name}, "iot", "CreateThing"))
    return Created(name, {"Arn": thing["thingArn"], "Id": thing["thingId"]})


@resource_handler("AWS::IoT::Policy")
def _iot_policy(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("PolicyName") or d.physical_name(logical_id, max_length=128)
    policy = d.client("iot").create_policy(
        policyName=name, policyDocument=_attribute_text(p["PolicyDocument"])
    )
    return Created(name, {"Arn": policy["policyArn"], "Id": name})


@resource_handler("AWS::IoT::PolicyPrincipalAttachment")
def _iot_policy_attachment(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    d.client("iot").attach_policy(policyName=p["PolicyName"], target=p["Principal"])
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::IoT::ThingPrincipalAttachment")
def _iot_thing_attachment(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    d.client("iot").attach_thing_principal(thingName=p["ThingName"], principal=p["Principal"])
    return Created(d.physical_name(logical_id))


@resource_handler("AWS::IoT::MitigationAction")
def _iot_mitigation_action(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ActionName") or d.physical_name(logical_id, max_length=128)
    action = d.client("iot").create_mitigation_action(
        **cfn_to_api({**p, "ActionName": name}, "iot", "CreateMitigationAction")
    )
    return Created(
        name, {"MitigationActionArn": action["actionArn"], "MitigationActionId": action["actionId"]}
    )


@resource_handler("AWS::IoT::ScheduledAudit")
def _iot_scheduled_audit(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    name = p.get("ScheduledAuditName") or d.physical_name(logical_id, max_length=128)
    audit = d.client("iot").create_scheduled_audit(
        **cfn_to_api({**p, "ScheduledAuditName": name}, "iot", "CreateScheduledAudit")
    )
    return Created(name, {"ScheduledAuditArn": audit["scheduledAuditArn"]})


@resource_handler("AWS::IoT::AccountAuditConfiguration")
def _iot_account_audit_configuration(d: Deployment, logical_id: str, p: dict[str, Any]) -> Created:
    checks: dict[str, Any] = {}
    for property_name, configuration in p.get("AuditCheckConfigurations", {}).items():
        if property_name not in AUDIT_CHECK_NAMES:
            raise DeployError(f"{logical_id}: unknown audit check property {property_name}")
        check: dict[str, Any] = {"enabled": _text(configuration.get("Enabled", "false")) == "true"}
        if "Configuration" in configuration:
            check["configuration"] = {
                _AUDIT_CHECK_CONFIGURATION_NAMES.get(key, key): _text(value)
                for key, value in configuration["Configuration"].items()
            }
        checks[AUDIT_CHECK_NAMES[property_name]] = check
    request: dict[str, Any] = {"roleArn": p["RoleArn"], "auditCheckConfigurations": checks}
    targets = p.get("AuditNotificationTargetConfigurations", {})
    if "Sns" in targets:
        sns = targets["Sns"]
        request["auditNotificationTargetConfigurations"] = {
            "SNS": {
                key: value
                for key, value in {
                    "targetArn": sns.get("TargetArn"),
                    "roleArn": sns.get("RoleArn"),
                    "enabled": _text(sns.get("Enabled", "false")) == "true",
                }.items()
                if value is not None
            }
        }
    from sandbox.account_audit_resource import create_account_audit_configuration

    create_account_audit_configuration(
        d.client("iot"),
        logical_id=logical_id,
        template_account_id=str(p["AccountId"]),
        account_id=d.account_id,
        request=request,
    )
    return Created(str(p["AccountId"]))
