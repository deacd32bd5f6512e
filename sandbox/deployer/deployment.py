"""One stack being created: the template translated and resolved, its resources created in dependency order
through boto3 (moto, or the Device Defender emulator for the IoT audit APIs), every function registered with
the in-process Lambda runner. `Ref` and `Fn::GetAtt` of a resource are the physical ids and attributes its
handler returned. A create that fails rolls back: what this deployment created is deleted, last first,
except resources whose DeletionPolicy is Retain (`teardown`)."""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.intrinsics import PseudoParameters, Resolver
from sandbox.cloudformation.ordering import creation_order
from sandbox.cloudformation.parameters import parameter_values
from sandbox.cloudformation.sam import ARTIFACT_BUCKET, translate_file
from sandbox.cloudformation.stack import Stack
from sandbox.deployer.clients import client
from sandbox.deployer.errors import PhysicalNameTooLongError, UnsupportedResourceTypeError
from sandbox.deployer.existing import refuse_existing
from sandbox.deployer.resources import EMULATED_RESOURCE_TYPES, RESOURCE_HANDLERS
from sandbox.deployer.teardown import KEPT_ON_DELETE, KEPT_ON_ROLLBACK, CreatedResource, delete_resources
from sandbox.iam.enforcement import Enforcement
from sandbox.lambdas import LambdaRunner
from sandbox.name_limits import NAME_MEMBERS, NameTooLongError, check_name

LOG = logging.getLogger(__name__)

# botocore's cloudformation model, CreateStack StackName: alphanumerics and hyphens, starting with a letter,
# at most 128 characters.
_STACK_NAME: Final = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


class PhysicalIds:
    """`Ref` and `Fn::GetAtt` of the resources created so far."""

    def __init__(self) -> None:
        self.physical_ids: dict[str, str] = {}
        self.attributes: dict[str, dict[str, Any]] = {}

    def ref(self, logical_id: str) -> Any:
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        raise DeployError(f"Ref {logical_id}: no such parameter or (created) resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.attributes:
            raise DeployError(f"Fn::GetAtt {logical_id}.{attribute}: no such (created) resource")
        attributes = self.attributes[logical_id]
        if attribute not in attributes:
            raise DeployError(
                f"Fn::GetAtt {logical_id}.{attribute}: the sandbox knows {sorted(attributes)} for this resource"
            )
        return attributes[attribute]


class Deployment:
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
        iam: Enforcement | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.template_path = template_path.resolve()
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.lambdas = lambdas
        self.iam = iam
        self.emulator_available = emulator_available
        digest = hashlib.sha1(f"{stack_name}{template_path}".encode(), usedforsecurity=False).hexdigest()
        self.stack_id = (
            f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
            f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        )
        self.requested_parameters = dict(parameters)
        self.created = PhysicalIds()
        self.layer_dirs: dict[str, Path] = {}
        self.artifacts: dict[str, Path] = {}
        self._workdir = workdir
        self.after_deploy: list[Callable[[], Any]] = []
        self.resources: list[CreatedResource] = []

    def run(self) -> Stack:
        if _STACK_NAME.fullmatch(self.stack_name) is None:
            raise DeployError(
                f"stack name {self.stack_name!r}: letters, digits and hyphens, starting with a letter, "
                "at most 128 characters"
            )
        translated = translate_file(self.template_path, self.requested_parameters, region=self.region)
        template = translated.template
        self.artifacts = translated.artifacts
        parameters = parameter_values(template.get("Parameters", {}), self.requested_parameters)
        resolver = Resolver(
            template,
            parameters=parameters,
            pseudo=PseudoParameters(self.account_id, self.region, self.stack_name, self.stack_id),
            resources=self.created,
        )
        resolver.conditions.evaluate_all()
        resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        active = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if "Condition" not in resource or resolver.condition(resource["Condition"])
        }
        self._refuse_unsupported(active)
        stack = Stack(
            name=self.stack_name,
            stack_id=self.stack_id,
            template_path=self.template_path,
            parameters=dict(parameters),
            template=template,
        )
        try:
            for logical_id in creation_order(active):
                resource_type = active[logical_id]["Type"]
                properties = resolver.resolve(active[logical_id].get("Properties", {}))
                self._create(logical_id, resource_type, properties, active[logical_id].get("DeletionPolicy"))
                stack.resource_types[logical_id] = resource_type
        except Exception:
            self._roll_back()
            raise
        for action in self.after_deploy:
            action()
        self._alias_sam_ids(translated.sam_resources, stack)
        stack.physical_ids = dict(self.created.physical_ids)
        stack.attributes = {k: dict(v) for k, v in self.created.attributes.items()}
        for name, output in template.get("Outputs", {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            stack.outputs[name] = resolver.resolve(output["Value"])
        return stack

    def _refuse_unsupported(self, active: Mapping[str, Mapping[str, Any]]) -> None:
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

    def _roll_back(self) -> None:
        kept = delete_resources(self, self.resources, keep=KEPT_ON_ROLLBACK)
        self.resources = kept
        LOG.info("rolled back %s; kept %s", self.stack_name, [r.logical_id for r in kept])

    def delete(self) -> list[str]:
        """Deletes the stack's resources, last created first, keeping those its DeletionPolicy retains;
        returns the logical ids kept."""
        kept = delete_resources(self, self.resources, keep=KEPT_ON_DELETE)
        self.resources = []
        return [resource.logical_id for resource in kept]

    def _create(
        self, logical_id: str, resource_type: str, properties: dict[str, Any], deletion_policy: str | None
    ) -> None:
        if resource_type in EMULATED_RESOURCE_TYPES and not self.emulator_available:
            raise UnsupportedResourceTypeError(
                f"{logical_id}: {resource_type} needs the Device Defender emulator "
                "(sandbox.device_defender), which is not available"
            )
        self._check_name(logical_id, resource_type, properties)
        refuse_existing(self, logical_id, resource_type, properties)
        try:
            created = RESOURCE_HANDLERS[resource_type](self, logical_id, dict(properties))
        except DeployError:
            raise
        except Exception as error:
            raise DeployError(f"{logical_id} ({resource_type}): {type(error).__name__}: {error}") from error
        self.created.physical_ids[logical_id] = created.physical_id
        self.created.attributes[logical_id] = created.attributes
        self.resources.append(
            CreatedResource(logical_id, resource_type, created, properties, deletion_policy or "Delete")
        )
        LOG.debug("created %s %s = %s", resource_type, logical_id, created.physical_id)

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
        physical_ids, attributes = self.created.physical_ids, self.created.attributes
        for logical_id, sam_type in sam_resources.items():
            if logical_id in physical_ids or not sam_type.startswith("AWS::Serverless::"):
                continue
            renamed = [
                candidate
                for candidate in physical_ids
                if candidate.startswith(logical_id)
                and re.fullmatch(r"[0-9a-f]{10}", candidate[len(logical_id) :])
            ]
            if len(renamed) == 1:
                physical_ids[logical_id] = physical_ids[renamed[0]]
                attributes[logical_id] = attributes[renamed[0]]
                stack.resource_types[logical_id] = stack.resource_types[renamed[0]]

    # What a resource handler may use (sandbox.deployer.context.ResourceContext).

    def client(self, service: str) -> Any:
        return client(service, self.region, self.account_id)

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
