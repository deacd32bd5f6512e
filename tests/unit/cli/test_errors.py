"""Refusals become one line naming the fix, with the exit code scripts branch on."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError
from typer.testing import CliRunner

from remediator_cli.app import app
from remediator_cli.errors import Exit, explain
from remediator_cli.stack import Stack


def _client_error(code: str, message: str, operation: str = "PutParameter") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_access_denied_names_the_action_and_resource_iam_gave() -> None:
    error = _client_error(
        "AccessDeniedException",
        "User: arn:aws:sts::111122223333:assumed-role/ops/alice is not authorized to perform: ssm:PutParameter "
        "on resource: arn:aws:ssm:eu-west-1:111122223333:parameter/stack/kill-switch because no "
        "identity-based policy allows the ssm:PutParameter action",
    )

    refused = explain(error, doing="writing", action="ssm:PutParameter", resource="/stack/kill-switch")

    assert refused.code is Exit.NOT_ALLOWED
    assert str(refused) == (
        "not allowed: ssm:PutParameter on arn:aws:ssm:eu-west-1:111122223333:parameter/stack/kill-switch "
        "(ask for the operator policy)"
    )


def test_access_denied_without_iams_wording_names_the_call_made() -> None:
    refused = explain(
        _client_error("AccessDenied", "Access denied"),
        doing="reading stack s",
        action="cloudformation:DescribeStacks",
        resource="s",
    )

    assert refused.code is Exit.NOT_ALLOWED
    assert str(refused) == "not allowed: cloudformation:DescribeStacks on s (ask for the operator policy)"


def test_missing_credentials_say_how_to_provide_them() -> None:
    refused = explain(NoCredentialsError(), doing="x", action="a", resource="r")

    assert refused.code is Exit.NOT_FOUND
    assert (
        str(refused)
        == "no AWS credentials found (set AWS_PROFILE, or run `aws configure` or `aws sso login`)"
    )


def test_another_service_error_names_what_was_being_done() -> None:
    refused = explain(
        _client_error("ThrottlingException", "Rate exceeded"), doing="listing", action="a", resource="r"
    )

    assert refused.code is Exit.AWS_ERROR
    assert str(refused).startswith("listing failed: An error occurred (ThrottlingException)")


class _OlderStack:
    """An account whose stack predates the kill switch: no output names it."""

    region = "eu-west-1"

    def client(self, service: str) -> Any:
        raise AssertionError(f"no call is made without the output ({service})")

    def stack(self, name: str) -> Stack:
        return Stack(name, self.region, {"RemediationTableName": "t"})


def test_pause_on_a_stack_without_the_switch_output_says_to_deploy_a_newer_version() -> None:
    result = CliRunner().invoke(app, ["pause", "--stack", "old"], obj=_OlderStack())

    assert result.exit_code == 4
    assert result.stderr == "the stack has no output KillSwitchParameterName: deploy a newer version\n"


def test_a_bad_until_exits_2_with_one_line() -> None:
    result = CliRunner().invoke(
        app,
        ["exclude", "abc", "--check", "DEVICE_CERTIFICATE_SHARED_CHECK", "--until", "soon"],
        obj=_OlderStack(),
    )

    assert result.exit_code == 2
    assert result.stderr == "--until 'soon' is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]\n"
