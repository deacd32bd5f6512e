"""`remediator rollback`: puts back what the service's mitigation tasks changed for one audit, from the
state recorded before each task started. The stack's RollbackFunction does the work with the stack's
identity (so an operator needs only lambda:InvokeFunction on it), one page of records per invocation;
this module invokes it again with the cursor and the running totals until the audit is done.

`roll_back(account, stack, options)` is the whole command without its printing, for scripts and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from remediator_cli.errors import Exit, OperatorError
from remediator_cli.invoke import invoke_function
from remediator_cli.kill_switch import caller_arn
from remediator_cli.stack import Account, Stack

FUNCTION_OUTPUT: Final = "RollbackFunctionName"
# The function's errors that mean the request itself was wrong, not AWS.
_REFUSED_REQUESTS: Final = frozenset({"RollbackRequestError"})


@dataclass(frozen=True)
class RollbackOptions:
    audit_task_id: str
    thing: str | None = None
    finding_id: str | None = None
    all: bool = False
    force: bool = False
    dry_run: bool = False

    def request(self, caller: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "auditTaskId": self.audit_task_id,
            "all": self.all,
            "force": self.force,
            "dryRun": self.dry_run,
            "callerArn": caller,
        }
        if self.thing:
            request["thing"] = self.thing
        if self.finding_id:
            request["findingId"] = self.finding_id
        return request


def _invoke(account: Account, function: str, request: dict[str, Any]) -> dict[str, Any]:
    payload = invoke_function(account, function, request, what="the rollback", refused=_REFUSED_REQUESTS)
    if not isinstance(payload, dict) or "totals" not in payload:
        raise OperatorError(f"the rollback answered {payload!r}, not a page", Exit.AWS_ERROR)
    return payload


def roll_back(account: Account, stack: Stack, options: RollbackOptions) -> dict[str, Any]:
    """Every page of the audit's records, in order; returns the totals (at most 100 records listed),
    whether the report was published, and the options."""
    if sum((bool(options.thing), bool(options.finding_id), options.all)) != 1:
        raise OperatorError("name exactly one of --thing, --finding or --all", Exit.BAD_INPUT)
    function = stack.output(FUNCTION_OUTPUT)
    request = options.request(caller_arn(account))
    pages = 0
    while True:
        page = _invoke(account, function, request)
        pages += 1
        if not page.get("cursor"):
            break
        request = {**request, "cursor": page["cursor"], "totals": page["totals"]}
    return {
        "auditTaskId": options.audit_task_id,
        "dryRun": options.dry_run,
        "force": options.force,
        "pages": pages,
        "reported": bool(page.get("reported")),
        **page["totals"],
    }


def exit_code(document: dict[str, Any]) -> Exit:
    """1 when an IoT call failed (run again); 3 when something was refused (changed since, or a certificate
    other things hold) or must be restored by hand; otherwise 0."""
    if document.get("failed"):
        return Exit.AWS_ERROR
    if document.get("refusedDrifted") or document.get("refusedShared") or document.get("manual"):
        return Exit.NOT_ALLOWED
    if not document.get("records"):
        return Exit.NOT_FOUND
    return Exit.OK


def print_rollback(console: Console, document: dict[str, Any]) -> None:
    verb = "Would roll back" if document["dryRun"] else "Rolled back"
    table = Table(title=f"{verb} audit {document['auditTaskId']}")
    for column in ("Finding", "Check", "Task", "Result", "What"):
        table.add_column(column, no_wrap=column in ("Finding", "Task"), overflow="fold")
    for item in document["items"]:
        table.add_row(
            item["findingId"], item["check"], item["taskId"], item["outcome"], "\n".join(item["details"])
        )
    console.print(table)
    counts = (
        "restored",
        "forced",
        "alreadyRestored",
        "refusedDrifted",
        "refusedShared",
        "failed",
        "manual",
        "wouldRestore",
    )
    console.print(
        f"{document['records']} records: "
        + ", ".join(f"{name} {document[name]}" for name in counts if document.get(name))
    )
    if document["records"] > len(document["items"]):
        console.print(f"(only the first {len(document['items'])} are listed; --json has the same)")
    if document.get("refusedDrifted"):
        console.print("Refused records were changed since the service acted: check them, then --force.")
    if document.get("refusedShared"):
        console.print(
            "Refused records hold a certificate other things share: roll back the whole finding, or --force."
        )
