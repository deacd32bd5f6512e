"""The CLI as an operator's role: the stack's OperatorPolicy allows every command, and a role without
it gets the one-line refusal naming the action and the resource."""

from __future__ import annotations

import json

from sandbox.iam.principals import acting_as, role_session
from tests.integration.cli.conftest import Operator

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _role(operator: Operator, name: str) -> str:
    iam = operator.sb.client("iam")
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def test_a_role_without_put_parameter_gets_the_not_allowed_line(operator: Operator) -> None:
    # Given a role that may read the switch but not write it
    role = _role(operator, "switch-reader")
    parameter_arn = f"arn:aws:ssm:us-east-1:123456789012:parameter{operator.switch}"
    operator.sb.client("iam").put_role_policy(
        RoleName="switch-reader",
        PolicyName="read-switch",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter_arn}],
            }
        ),
    )

    # When that role pauses
    with acting_as(role_session(role, "alice")):
        result = operator.run("pause")

    # Then one line names the refused action, its resource and the fix, and the switch is unchanged
    assert result.exit_code == 3
    assert (
        result.stderr == f"not allowed: ssm:PutParameter on {parameter_arn} (ask for the operator policy)\n"
    )
    assert operator.parameter()["Value"] == "released"


def test_the_operator_policy_allows_every_command(operator: Operator) -> None:
    # Given a role with only the stack's operator policy
    role = _role(operator, "operator")
    operator.sb.client("iam").attach_role_policy(
        RoleName="operator", PolicyArn=operator.outputs["OperatorPolicyArn"]
    )
    certificate_id = operator.sb.client("iot").list_certificates()["certificates"][0]["certificateId"]
    resource = json.loads(operator.run("history", operator.audit_task_id, "--json").stdout)["findings"][0][
        "resource"
    ]
    operator.sb.iam.denials.clear()
    commands = [
        ("status",),
        ("history", operator.audit_task_id),
        ("history", "--resource", resource),
        ("pause",),
        ("resume",),
        ("exclude", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK", "--until", "2099-01-31"),
        ("excluded",),
        ("include", certificate_id, "--check", "DEVICE_CERTIFICATE_SHARED_CHECK"),
        ("reconcile", "--days", "1"),
        ("rollback", operator.audit_task_id, "--all", "--dry-run"),
    ]

    # When that role runs every command
    with acting_as(role_session(role, "bob")):
        results = {" ".join(command[:2]): operator.run(*command) for command in commands}

    # Then each succeeds and IAM refused nothing
    assert {name: (result.exit_code, result.stderr) for name, result in results.items()} == {
        " ".join(command[:2]): (0, "") for command in commands
    }
    assert operator.sb.iam.denials == []
