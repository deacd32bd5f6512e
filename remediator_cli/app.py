"""remediator: what an operator does with a deployed stack, from the command line.

Every command takes --json for scripts; a refusal is one line on stderr that names the fix, and the
exit code tells scripts which kind it was (remediator_cli.errors.Exit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Final

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from remediator_cli import (
    approvals,
    exclusions,
    history,
    history_tables,
    kill_switch,
    reconcile,
    rollback,
    runs,
    tables,
)
from remediator_cli.errors import Exit, OperatorError
from remediator_cli.stack import Account, AwsAccount, Stack

DEFAULT_STACK: Final = "iot-audit-remediator"

app = typer.Typer(
    name="remediator",
    help="Operate an IoT Audit Remediator stack: its runs, history, approvals, kill switch and exclusions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

StackOption = Annotated[
    str,
    typer.Option(
        "--stack", envvar="REMEDIATOR_STACK", help="The stack's name (CloudFormation).", show_default=True
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


@app.callback()
def _account(ctx: typer.Context) -> None:
    """AWS credentials, Region and profile come from the environment, as for the AWS CLI."""
    if ctx.obj is None:
        ctx.obj = AwsAccount()


@contextmanager
def _reported() -> Iterator[None]:
    """A refusal becomes its one line on stderr and its exit code, never a traceback."""
    try:
        yield
    except OperatorError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(int(error.code)) from None
    except (ClientError, BotoCoreError) as error:
        typer.echo(f"an AWS call failed: {error}", err=True)
        raise typer.Exit(int(Exit.AWS_ERROR)) from None


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, sort_keys=True, default=str))


def _stack(ctx: typer.Context, name: str) -> tuple[Account, Stack]:
    account: Account = ctx.obj
    return account, account.stack(name)


@app.command()
def status(
    ctx: typer.Context,
    stack: StackOption = DEFAULT_STACK,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many recent runs to show.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Recent audits and their runs (status and result), pending approvals, and the kill switch's state."""
    with _reported():
        account, found = _stack(ctx, stack)
        try:
            switch: dict[str, Any] = kill_switch.read(account, found).as_json()
        except OperatorError as error:
            if error.code is not Exit.NOT_FOUND:
                raise
            switch = {"unavailable": str(error)}
        try:
            waiting: list[dict[str, Any]] | dict[str, str] = approvals.pending(account, found)
        except OperatorError as error:
            waiting = {"unavailable": str(error)}
        document = {
            "stack": found.name,
            "region": found.region,
            "killSwitch": switch,
            "runs": runs.recent_runs(account, found, limit),
            "pendingApprovals": waiting,
        }
    if json_output:
        _print_json(document)
    else:
        tables.status(Console(), document)


@app.command("history")
def history_command(
    ctx: typer.Context,
    audit_task_id: Annotated[
        str | None, typer.Argument(help="The Device Defender audit task id (or give --resource).")
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option(
            "--resource",
            help="One resource across audits, as the findings table names it, e.g. deviceCertificateId=ID.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="How many findings (or records) per page.")
    ] = 50,
    after: Annotated[
        str | None, typer.Option("--after", help="The `next` token of the previous page: the page after it.")
    ] = None,
    stack: StackOption = DEFAULT_STACK,
    json_output: JsonOption = False,
) -> None:
    """What the service decided and did for one audit (decisions, tasks with their statistics, runs) and
    each finding's lineage: its task, IoT's execution status, the verification and any rollback. With
    --resource, the same lineage for one resource across audits, newest first."""
    with _reported():
        if (audit_task_id is None) == (resource is None):
            raise OperatorError(
                "give an audit task id or --resource KEY, not both and not neither", Exit.BAD_INPUT
            )
        account, found = _stack(ctx, stack)
        if resource is not None:
            document = history.resource_history(account, found, resource, limit, after)
        else:
            assert audit_task_id is not None
            document = history.audit_history(account, found, audit_task_id, limit, after)
    if json_output:
        _print_json(document)
    elif resource is not None:
        history_tables.resource(Console(), document)
    else:
        tables.history(Console(), document)
        history_tables.findings(Console(), document)


def _switch(ctx: typer.Context, stack: str, state: kill_switch.State, json_output: bool) -> None:
    with _reported():
        account, found = _stack(ctx, stack)
        switched = kill_switch.set_switch(account, found, state)
    if json_output:
        _print_json(switched.as_json())
    else:
        typer.echo(f"kill switch {switched.changed_by} ({switched.parameter}, version {switched.version})")


@app.command()
def pause(ctx: typer.Context, stack: StackOption = DEFAULT_STACK, json_output: JsonOption = False) -> None:
    """Pull the kill switch: nothing new starts and running mitigation tasks are cancelled."""
    _switch(ctx, stack, "pulled", json_output)


@app.command()
def resume(ctx: typer.Context, stack: StackOption = DEFAULT_STACK, json_output: JsonOption = False) -> None:
    """Release the kill switch: the next audits are remediated again."""
    _switch(ctx, stack, "released", json_output)


AuditArgument = Annotated[str, typer.Argument(help="The Device Defender audit task id.")]
GroupArgument = Annotated[
    str,
    typer.Argument(
        help="The group: its mitigation task id (as `status` lists it), or the one check it covers."
    ),
]


def _decide(
    ctx: typer.Context,
    stack: str,
    audit_task_id: str,
    group: str,
    decision: approvals.Decision,
    reason: str | None,
    json_output: bool,
) -> None:
    with _reported():
        account, found = _stack(ctx, stack)
        decided = approvals.decide(account, found, audit_task_id, group, decision, reason)
    if json_output:
        _print_json(decided)
    else:
        typer.echo(
            f"{decided['status'].lower()} group {decided['taskId']} of audit {decided['auditTaskId']} "
            f"as {decided['decidedBy']} at {decided['decidedAt']}"
        )


@app.command()
def approve(
    ctx: typer.Context,
    audit_task_id: AuditArgument,
    group: GroupArgument,
    stack: StackOption = DEFAULT_STACK,
    json_output: JsonOption = False,
) -> None:
    """Approve a group awaiting approval: the workflow starts it (the kill switch still applies)."""
    _decide(ctx, stack, audit_task_id, group, "approve", None, json_output)


@app.command()
def reject(
    ctx: typer.Context,
    audit_task_id: AuditArgument,
    group: GroupArgument,
    stack: StackOption = DEFAULT_STACK,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; recorded with the decision.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Reject a group awaiting approval: nothing of it starts, and the rejection is recorded and reported."""
    _decide(ctx, stack, audit_task_id, group, "reject", reason, json_output)


CheckOption = Annotated[
    str, typer.Option("--check", help="The audit check, e.g. DEVICE_CERTIFICATE_SHARED_CHECK.")
]
ResourceArgument = Annotated[
    str,
    typer.Argument(
        help="The resource as the check reports it: a device or CA certificate id, a policy NAME[:VERSION], "
        "a client id, a role alias ARN, a Cognito identity pool id or the account id."
    ),
]


@app.command()
def exclude(
    ctx: typer.Context,
    resource: ResourceArgument,
    check: CheckOption,
    until: Annotated[
        str, typer.Option("--until", help="Expiry: YYYY-MM-DD (midnight UTC) or an ISO 8601 time.")
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept with the suppression.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Exclude a resource from a check's remediation until a date (a Device Defender audit suppression)."""
    with _reported():
        created = exclusions.exclude(ctx.obj, resource, check, exclusions.parse_until(until), reason)
    if json_output:
        _print_json(created)
    else:
        typer.echo(f"excluded {resource} from {created['checkName']} until {created['expirationDate']}")


@app.command()
def include(
    ctx: typer.Context, resource: ResourceArgument, check: CheckOption, json_output: JsonOption = False
) -> None:
    """Remove a resource's exclusion: its findings are remediated again from the next audit."""
    with _reported():
        removed = exclusions.include(ctx.obj, resource, check)
    if json_output:
        _print_json({"checkName": check, "resource": resource, "removed": removed})
    elif removed:
        typer.echo(f"{resource} is no longer excluded from {check}")
    else:
        typer.echo(f"{resource} was not excluded from {check}; nothing changed")


@app.command()
def excluded(
    ctx: typer.Context,
    check: Annotated[str | None, typer.Option("--check", help="Only this check's exclusions.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List the excluded resources (every audit suppression of the account and Region)."""
    with _reported():
        items = exclusions.excluded(ctx.obj, check)
    if json_output:
        _print_json(items)
    else:
        tables.exclusions(Console(), items)


@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=1, max=90, help="How many days back to list completed audits.")
    ] = 7,
    stack: StackOption = DEFAULT_STACK,
    json_output: JsonOption = False,
) -> None:
    """Run the reconciliation sweep now: every audit completed in the last DAYS days that the stack never
    decided (its notification was lost) is decided as its notification would have been. Exits 1 when
    some audits could not be read or decided (they are listed; the next sweep tries them again)."""
    with _reported():
        account, found = _stack(ctx, stack)
        report = reconcile.sweep(account, found, days)
    if json_output:
        _print_json(report)
    else:
        tables.reconciliation(Console(), report)
    if report.get("errors"):
        raise typer.Exit(int(Exit.AWS_ERROR))


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    audit_task_id: AuditArgument,
    thing: Annotated[str | None, typer.Option("--thing", help="Only the records of this thing.")] = None,
    finding: Annotated[str | None, typer.Option("--finding", help="Only this finding's records.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every record of the audit.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also restore resources someone changed since the service acted.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be restored; change nothing.")
    ] = False,
    stack: StackOption = DEFAULT_STACK,
    json_output: JsonOption = False,
) -> None:
    """Restore what the service changed for an audit, from the state recorded before each task: certificate
    status, the things' thing groups, the policy's default version (the blank version deleted). Name exactly
    one of --thing, --finding or --all. A resource changed since the service acted is refused unless --force;
    logging options are listed with the command to restore them by hand. Exits 3 when something was refused
    or must be restored by hand, 1 when an AWS call failed (run it again), 4 when nothing was recorded."""
    with _reported():
        account, found = _stack(ctx, stack)
        options = rollback.RollbackOptions(audit_task_id, thing, finding, every, force, dry_run)
        document = rollback.roll_back(account, found, options)
    if json_output:
        _print_json(document)
    else:
        rollback.print_rollback(Console(), document)
    code = rollback.exit_code(document)
    if code is not Exit.OK:
        raise typer.Exit(int(code))


def main() -> None:
    app()
