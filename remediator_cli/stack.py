"""The stack the operator works on: its name, Region and outputs, found with CloudFormation
DescribeStacks, and the boto3 clients of the same session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from remediator_cli.errors import Exit, OperatorError, error_code, explain


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    outputs: dict[str, str]

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise OperatorError(f"the stack has no output {key}: deploy a newer version", Exit.NOT_FOUND)
        return value


class Account(Protocol):
    """Where the commands' calls go."""

    @property
    def region(self) -> str: ...

    def client(self, service: str) -> Any: ...

    def stack(self, name: str) -> Stack: ...


class AwsAccount:
    """Standard AWS credentials, Region and profile from the environment (boto3's own lookup)."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        # AWS_REGION overrides AWS_DEFAULT_REGION and the profile's region, as in the AWS CLI v2.
        self._session = session or boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        region = self._session.region_name
        if not region:
            raise OperatorError("no AWS Region set (set AWS_REGION or the profile's region)", Exit.NOT_FOUND)
        return str(region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, region_name=self.region)  # type: ignore[call-overload]
        return self._clients[service]

    def stack(self, name: str) -> Stack:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            # CloudFormation answers an unknown stack with ValidationError "Stack with id X does not exist".
            if error_code(error) == "ValidationError" and "does not exist" in str(error):
                raise no_stack(name, self.region) from error
            raise explain(
                error, doing=f"reading stack {name}", action="cloudformation:DescribeStacks", resource=name
            ) from error
        except BotoCoreError as error:
            raise explain(
                error, doing=f"reading stack {name}", action="cloudformation:DescribeStacks", resource=name
            ) from error
        if not stacks:
            raise no_stack(name, self.region)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        return Stack(name, self.region, outputs)


def no_stack(name: str, region: str) -> OperatorError:
    return OperatorError(f"no stack named {name} in {region} (check --stack and AWS_REGION)", Exit.NOT_FOUND)
