"""The translated template as one concrete stack: intrinsics resolved to the names and ARNs they would have.

Role policies build ARNs with !Sub while topics, queues and tables are named by their own properties; resolving
both sides to strings lets a check compare "what the role may touch" with "what the stack created".
"""

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.cloudformation.intrinsics import PseudoParameters, Resolver
from sandbox.cloudformation.values import NO_VALUE
from tools.sam_template import translate

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "iot-audit-remediator"
PARTITION = "aws"
PSEUDO = PseudoParameters(
    account_id=ACCOUNT,
    region=REGION,
    stack_name=STACK_NAME,
    stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/0",
    partition=PARTITION,
)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: frozenset[str]
    not_actions: frozenset[str]
    resources: frozenset[str]
    principals: Mapping[str, frozenset[str]]
    conditions: Mapping[str, Mapping[str, Any]]
    sid: str = ""

    @property
    def is_allow(self) -> bool:
        return self.effect == "Allow"

    def condition_values(self, key: str) -> dict[str, frozenset[str]]:
        """Operator -> values for a condition key (keys compared case-insensitively, as IAM does)."""
        found: dict[str, frozenset[str]] = {}
        for operator, entries in self.conditions.items():
            for name, value in entries.items():
                if name.lower() == key.lower():
                    found[operator] = _as_set(value)
        return found


def _as_set(value: Any) -> frozenset[str]:
    if value is None or value is NO_VALUE:
        return frozenset()
    if isinstance(value, list):
        return frozenset(str(item) for item in value if item is not NO_VALUE)
    return frozenset([str(value)])


class SymbolicNames:
    """`Ref` and `Fn::GetAtt` of a resource as the names and ARNs it would have: its name property when the
    template sets one, its logical id otherwise."""

    def __init__(self, stack: "Stack") -> None:
        self._stack = stack

    def _resource(self, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self._stack.template["Resources"][logical_id]
        return resource

    def _name(self, logical_id: str, name_property: str) -> str:
        properties = self._resource(logical_id).get("Properties", {})
        return (
            str(self._stack.resolve(properties[name_property])) if name_property in properties else logical_id
        )

    @staticmethod
    def _arn(service: str, resource: str, region: str = REGION) -> str:
        return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{resource}"

    def ref(self, logical_id: str) -> Any:
        resource = self._resource(logical_id)
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        by_kind = {
            "AWS::SNS::Topic": lambda: self._arn("sns", self._name(logical_id, "TopicName")),
            "AWS::SQS::Queue": lambda: (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self._name(logical_id, 'QueueName')}"
            ),
            "AWS::StepFunctions::StateMachine": lambda: self._arn(
                "states", f"stateMachine:{self._name(logical_id, 'StateMachineName')}"
            ),
            "AWS::Lambda::LayerVersion": lambda: self._arn("lambda", f"layer:{logical_id}:1"),
            "AWS::KMS::Key": lambda: f"key-{logical_id}",
        }
        if kind in by_kind:
            return by_kind[kind]()
        name_property = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::IAM::Role": "RoleName",
            "AWS::IoT::ThingGroup": "ThingGroupName",
            "AWS::IoT::Policy": "PolicyName",
            "AWS::IoT::MitigationAction": "ActionName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::CloudWatch::Alarm": "AlarmName",
            "AWS::CloudWatch::Dashboard": "DashboardName",
            "AWS::Scheduler::Schedule": "Name",
            "AWS::IoT::AccountAuditConfiguration": "AccountId",
            "AWS::SSM::Parameter": "Name",
        }.get(kind)
        if name_property and name_property in properties:
            return self._name(logical_id, name_property)
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = self._resource(logical_id)["Type"]
        if attribute == "QueueName":
            return self._name(logical_id, "QueueName")
        if attribute != "Arn":
            return f"{logical_id}.{attribute}"
        arns = {
            "AWS::IAM::Role": lambda: f"arn:{PARTITION}:iam::{ACCOUNT}:role/{self.ref(logical_id)}",
            "AWS::SQS::Queue": lambda: self._arn("sqs", self._name(logical_id, "QueueName")),
            "AWS::KMS::Key": lambda: self._arn("kms", f"key/key-{logical_id}"),
            "AWS::IoT::ThingGroup": lambda: self._arn("iot", f"thinggroup/{self.ref(logical_id)}"),
            "AWS::IoT::Policy": lambda: self._arn("iot", f"policy/{self.ref(logical_id)}"),
            "AWS::IoT::MitigationAction": lambda: self._arn(
                "iot", f"mitigationaction/{self.ref(logical_id)}"
            ),
            "AWS::Events::Rule": lambda: self._arn("events", f"rule/{logical_id}"),
            "AWS::Lambda::Function": lambda: self._arn("lambda", f"function:{self.ref(logical_id)}"),
            "AWS::Logs::LogGroup": lambda: self._arn("logs", f"log-group:{self.ref(logical_id)}:*"),
            "AWS::SNS::Topic": lambda: self.ref(logical_id),
            "AWS::DynamoDB::Table": lambda: self._arn("dynamodb", f"table/{self.ref(logical_id)}"),
            "AWS::CloudWatch::Alarm": lambda: self._arn("cloudwatch", f"alarm:{self.ref(logical_id)}"),
            "AWS::Scheduler::Schedule": lambda: self._arn(
                "scheduler", f"schedule/default/{self.ref(logical_id)}"
            ),
            "AWS::StepFunctions::StateMachine": lambda: self.ref(logical_id),
        }
        return arns[kind]() if kind in arns else f"{logical_id}.Arn"


@dataclass
class Stack:
    """A template after the Serverless transform, with parameter values (defaults unless overridden)."""

    written: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    template: dict[str, Any] = field(init=False)
    _resolver: Resolver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.template = translate(copy.deepcopy(self.written))
        defaults = {
            name: str(spec["Default"])
            for name, spec in self.template.get("Parameters", {}).items()
            if "Default" in spec
        }
        self.parameters = {**defaults, **self.parameters}
        self._resolver = Resolver(
            self.template, parameters=self.parameters, pseudo=PSEUDO, resources=SymbolicNames(self)
        )

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if self.condition(resource.get("Condition"))
        }

    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res["Type"] == resource_type}

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved: dict[str, Any] = self.resolve(self.resource(logical_id).get("Properties", {}))
        return resolved

    def condition(self, name: str | None) -> bool:
        return True if name is None else self._resolver.condition(name)

    def resolve(self, value: Any) -> Any:
        return self._resolver.resolve(value)

    def ref(self, name: str) -> Any:
        return self._resolver.ref(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._resolver.get_att(logical_id, attribute)

    def logical_id_of_arn(self, arn: str) -> str | None:
        for logical_id in self.resources:
            if self.get_att(logical_id, "Arn") == arn:
                return logical_id
        return None

    def logical_id_of_ref(self, value: str) -> str | None:
        for logical_id in self.resources:
            if self.ref(logical_id) == value:
                return logical_id
        return None

    def policy_statements(self, document: Any) -> list[Statement]:
        document = self.resolve(document)
        if isinstance(document, str):
            document = json.loads(document)
        raw = document.get("Statement", [])
        return [_statement(item) for item in (raw if isinstance(raw, list) else [raw])]

    def role_statements(self, role_logical_id: str) -> list[Statement]:
        """Every statement that applies to a role: inline, attached AWS::IAM::Policy / ManagedPolicy."""
        role = self.resource(role_logical_id)
        found: list[Statement] = []
        for policy in role.get("Properties", {}).get("Policies", []):
            found.extend(self.policy_statements(policy["PolicyDocument"]))
        role_name = self.ref(role_logical_id)
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for logical_id, resource in self.of_type(kind).items():
                attached = self.properties(logical_id).get("Roles", [])
                if role_name in attached:
                    found.extend(self.policy_statements(resource["Properties"]["PolicyDocument"]))
        return found

    def role_managed_policy_arns(self, role_logical_id: str) -> list[str]:
        arns: list[str] = self.properties(role_logical_id).get("ManagedPolicyArns", [])
        return arns

    def trust_statements(self, role_logical_id: str) -> list[Statement]:
        return self.policy_statements(
            self.resource(role_logical_id)["Properties"]["AssumeRolePolicyDocument"]
        )

    def role_of(self, role_arn: str) -> str:
        logical_id = self.logical_id_of_arn(role_arn)
        assert logical_id is not None, f"{role_arn} is not a role of this stack"
        return logical_id

    def policy_documents(self) -> Iterator[tuple[str, list[Statement]]]:
        """Every IAM-language document in the stack: identity, trust, resource and key policies."""
        for logical_id, resource in self.resources.items():
            properties = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::IAM::Role":
                for policy in properties.get("Policies", []):
                    yield logical_id, self.policy_statements(policy["PolicyDocument"])
            elif kind in {
                "AWS::IAM::Policy",
                "AWS::IAM::ManagedPolicy",
                "AWS::SNS::TopicPolicy",
                "AWS::SQS::QueuePolicy",
            }:
                yield logical_id, self.policy_statements(properties["PolicyDocument"])
            elif kind == "AWS::KMS::Key":
                yield logical_id, self.policy_statements(properties["KeyPolicy"])


def _statement(raw: Mapping[str, Any]) -> Statement:
    principal = raw.get("Principal", {})
    principals: dict[str, frozenset[str]] = (
        {"*": frozenset(["*"])}
        if principal == "*"
        else {kind: _as_set(value) for kind, value in principal.items()}
    )
    return Statement(
        effect=raw["Effect"],
        actions=_as_set(raw.get("Action")),
        not_actions=_as_set(raw.get("NotAction")),
        resources=_as_set(raw.get("Resource")),
        principals=principals,
        conditions=raw.get("Condition", {}),
        sid=raw.get("Sid", ""),
    )
