"""The CLI suite's fixtures: one sandbox per module with the stack deployed in Enforce mode and one
audit remediated, and the command line run against it as the sandbox's account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from remediator_cli.app import app
from remediator_cli.kill_switch import OUTPUT as KILL_SWITCH_OUTPUT
from sandbox import Sandbox
from sandbox.operator_account import SandboxAccount
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE

STACK = "iot-audit-remediator"


@dataclass
class Operator:
    sb: Sandbox
    account: SandboxAccount
    outputs: dict[str, str]
    audit_task_id: str

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), obj=self.account)

    @property
    def switch(self) -> str:
        return self.outputs[KILL_SWITCH_OUTPUT]

    def parameter(self) -> dict[str, Any]:
        ssm = self.sb.client("ssm")
        history = ssm.get_parameter_history(Name=self.switch)["Parameters"]
        return dict(history[-1])


def _kill_switch(sb: Sandbox, outputs: dict[str, str]) -> dict[str, str]:
    """The stack's switch parameter; a template without it gets one named as the stack will name it."""
    if KILL_SWITCH_OUTPUT in outputs:
        return {}
    name = f"/{STACK}/kill-switch"
    sb.client("ssm").put_parameter(Name=name, Value="released", Type="String")
    return {KILL_SWITCH_OUTPUT: name}


@pytest.fixture(scope="module")
def deployed() -> Iterator[Operator]:
    with Sandbox(time_scale=TIME_SCALE) as sb:
        stack = sb.deploy(TEMPLATE, parameters=PARAMETERS, stack_name=STACK)
        outputs = {key: str(value) for key, value in stack.outputs.items()}
        extra = _kill_switch(sb, outputs)
        sb.seed_fleet("workshop")
        audit = sb.client("iot").start_on_demand_audit_task(
            targetCheckNames=["DEVICE_CERTIFICATE_SHARED_CHECK"]
        )
        sb.settle()
        yield Operator(sb, SandboxAccount(sb, extra_outputs=extra), {**outputs, **extra}, audit["taskId"])


@pytest.fixture
def operator(deployed: Operator) -> Iterator[Operator]:
    """The module's stack with the switch released and no exclusion left over."""
    yield deployed
    deployed.sb.client("ssm").put_parameter(Name=deployed.switch, Value="released", Overwrite=True)
    iot = deployed.sb.client("iot")
    for item in iot.list_audit_suppressions()["suppressions"]:
        iot.delete_audit_suppression(
            checkName=item["checkName"], resourceIdentifier=item["resourceIdentifier"]
        )
