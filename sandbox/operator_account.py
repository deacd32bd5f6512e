"""The remediator command line's account, played by a sandbox: its clients are the sandbox's, and a
stack's outputs come from the sandbox's deployments, since the deployer creates the template's
resources itself and moto's CloudFormation holds no stack that DescribeStacks could find."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediator_cli.stack import Stack, no_stack
from sandbox.lifecycle import Sandbox


class SandboxAccount:
    def __init__(self, sb: Sandbox, *, extra_outputs: Mapping[str, str] | None = None) -> None:
        self._sb = sb
        self._extra = dict(extra_outputs or {})

    @property
    def region(self) -> str:
        return self._sb.region

    def client(self, service: str) -> Any:
        return self._sb.client(service)

    def stack(self, name: str) -> Stack:
        deployed = self._sb.stacks.get(name)
        if deployed is None:
            raise no_stack(name, self.region)
        outputs = {key: str(value) for key, value in deployed.outputs.items()}
        return Stack(name, self.region, {**outputs, **self._extra})
