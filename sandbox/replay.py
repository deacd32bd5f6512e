"""`python -m sandbox replay [-v] [--mode Enforce|DryRun] <event.json>`: one event through the real handler.

Deploys template.yaml into a fresh sandbox, invokes AuditEventsFunction with the event in-process and
prints exactly one JSON document on stdout: the handler's result; when it started an execution,
`execution.status` (DescribeExecution) and what the workflow's report says: `execution.result`
(`full-success`, `partial`, `failed`, ...) and `execution.tasks` (each task's status, with IoT's
error and cause for a rejected one, and its statistics), `execution.totals`; and `sandbox`, what the
replay seeded.
Before the invocation the emulator is seeded with the audit the notification reports (its task id,
checks and non-compliant resources; see sandbox.replay_seed), so mitigation tasks find findings
and change the seeded fleet. The handler's own stdout (its Powertools log lines and EMF metric
documents) goes to a log file, or with `-v` to stderr, at the file-descriptor level so nothing can slip
through; see sandbox.cli_output. A failure ends with one line on stderr; `-v` adds its stack trace.
Exit status: 0 when the handler returned and the execution it started (if any) succeeded with a
successful report; 3 when that execution failed, is still running, or its report is not a success
(a task IoT rejected, a capped group, failed findings, a group awaiting approval: replay has no operator,
so it reports the pending approvals and how to answer them, and lets them expire); 1 if the handler raised or the stack could
not be deployed; 2 for a bad command line or an unreadable event.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from sandbox.cli_output import add_output_arguments, operator_output
from sandbox.executions import execution_arn
from sandbox.iam.reporting import denial_lines
from sandbox.replay_approvals import let_expire, no_one_to_approve, pending_approvals

LOG = logging.getLogger("sandbox.replay")

FUNCTION: Final = "AuditEventsFunction"
STATE_MACHINE: Final = "RemediationStateMachine"
# Sandbox time runs 1000x faster: a 300 s finding window takes 0.3 s, polls of 15 s take 15 ms.
TIME_SCALE: Final = 0.001
EXECUTION_WAIT_SECONDS: Final = 20.0
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# Report results that mean every planned task did what it should (a dry-run starts nothing on purpose).
SUCCESSFUL_RESULTS: Final = frozenset({"full-success", "dry-run"})
EXIT_OK: Final = 0
EXIT_NOT_REMEDIATED: Final = 3
# What a task outcome in the report may carry, as "Run mitigation tasks" records it.
_TASK_FIELDS: Final = (
    "taskId",
    "mode",
    "checks",
    "status",
    "reason",
    "error",
    "cause",
    "statistics",
    "failures",
)


class ReplayError(Exception):
    """The replay could not produce the handler's result (exit status 1)."""


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox replay",
        description="Deploy template.yaml into a fresh sandbox and run one event through AuditEventsFunction.",
    )
    parser.add_argument(
        "--mode",
        default="Enforce",
        help="RemediationMode: Enforce (default) or DryRun; dry-run is accepted too",
    )
    add_output_arguments(parser, "replay")
    parser.add_argument("--template", default="template.yaml", type=Path, help="default: template.yaml")
    parser.add_argument(
        "--wait",
        type=float,
        default=EXECUTION_WAIT_SECONDS,
        help=f"real seconds to let a started execution run (default {EXECUTION_WAIT_SECONDS:g})",
    )
    parser.add_argument(
        "--no-seed",
        dest="seed",
        action="store_false",
        help="do not seed the emulator with the notification's audit (its tasks then target an audit IoT does not know)",
    )
    parser.add_argument("event", type=Path, help="an SNS event, e.g. events/audit_events/<case>.json")
    arguments = parser.parse_args(list(argv))
    try:
        arguments.mode = remediation_mode(arguments.mode, arguments.template)
    except ValueError as error:
        parser.error(str(error))
    return arguments


def remediation_mode(text: str, template: Path) -> str:
    """The template's spelling of a RemediationMode (one of its AllowedValues), matched regardless of
    case, hyphens and underscores: `dry-run`, `dryrun` and `DRY_RUN` all mean `DryRun`."""
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped, unused-ignore]

    try:
        parameter = yaml_parse(template.read_text())["Parameters"]["RemediationMode"]
    except (OSError, KeyError, TypeError) as error:
        raise ValueError(f"{template} declares no RemediationMode parameter ({error})") from error
    allowed = [str(value) for value in parameter.get("AllowedValues", [])]
    wanted = text.replace("-", "").replace("_", "").casefold()
    for mode in allowed:
        if mode.casefold() == wanted:
            return mode
    raise ValueError(f"unknown mode {text!r}: use {' or '.join(allowed)} (dry-run is accepted for DryRun)")


def deploy_parameters(mode: str) -> dict[str, str]:
    """What the replay deploys with: RemediationMode, every other parameter at its default, as a
    plain `sam deploy` would."""
    return {"RemediationMode": mode}


def replay(
    event: Any, *, mode: str, template: Path, wait_seconds: float, seed: bool = True
) -> dict[str, Any]:
    from sandbox import LambdaFunctionError, Sandbox
    from sandbox.replay_seed import Seeding, seed_replayed_message

    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        stack = sandbox.deploy(template, parameters=deploy_parameters(mode))
        seeding = seed_replayed_message(sandbox, event) if seed else Seeding(note="nothing seeded: --no-seed")
        try:
            result = sandbox.invoke(FUNCTION, event)
        except LambdaFunctionError as error:
            refused = denial_lines(sandbox.iam.denials, stack.physical_ids)
            because = f"; IAM refused {'; '.join(refused)}" if refused else ""
            raise ReplayError(
                f"{FUNCTION} raised {error.error_type}: {error.error_message}{because}"
            ) from error
        if not isinstance(result, dict):
            raise ReplayError(f"{FUNCTION} returned {type(result).__name__}, not a JSON object")
        execution = result.get("execution")
        if isinstance(execution, dict) and execution.get("name"):
            arn = execution_arn(stack.physical_ids[STATE_MACHINE], execution["name"])

            def waiting() -> list[dict[str, Any]]:
                table = stack.physical_ids.get("RemediationTable")
                return pending_approvals(sandbox, table, stack.name) if table else []

            execution["status"] = _final_status(sandbox, arn, wait_seconds, stop=lambda: bool(waiting()))
            approvals = waiting() if execution["status"] not in _TERMINAL else []
            if approvals:
                execution.update(awaitingApproval=approvals, note=no_one_to_approve(approvals))
                execution["status"] = let_expire(sandbox, arn, waiting, wait_seconds)
            execution.update(_workflow_outcome(sandbox, arn))
        result["sandbox"] = {
            **seeding.document(),
            "denied": denial_lines(sandbox.iam.denials, stack.physical_ids),
        }
        return result


def _workflow_outcome(sandbox: Any, execution_arn: str) -> dict[str, Any]:
    """The report the execution published ("Summarize results" is its output), or why there is none."""
    described = sandbox.client("stepfunctions").describe_execution(executionArn=execution_arn)
    outcome: dict[str, Any] = {"result": None, "tasks": []}
    if described["status"] != "SUCCEEDED":
        outcome["error"] = described.get("error")
        outcome["cause"] = described.get("cause")
        return outcome
    try:
        report = json.loads(described.get("output") or "null")
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return outcome
    outcome["result"] = report.get("result")
    tasks = report.get("tasks")
    if not isinstance(tasks, list):
        tasks = []
    outcome["tasks"] = [
        {key: task[key] for key in _TASK_FIELDS if key in task} for task in tasks if isinstance(task, dict)
    ]
    for key in ("totals", "capped"):
        if key in report:
            outcome[key] = report[key]
    return outcome


def exit_status(result: dict[str, Any]) -> int:
    """0 unless IAM refused a call or the handler started an execution that did not end in a
    successful report."""
    if result.get("sandbox", {}).get("denied"):
        return EXIT_NOT_REMEDIATED
    execution = result.get("execution")
    if not isinstance(execution, dict) or "status" not in execution:
        return EXIT_OK
    succeeded = execution["status"] == "SUCCEEDED" and execution.get("result") in SUCCESSFUL_RESULTS
    return EXIT_OK if succeeded else EXIT_NOT_REMEDIATED


def _final_status(
    sandbox: Any, execution_arn: str, wait_seconds: float, stop: Callable[[], bool] = lambda: False
) -> str:
    sfn = sandbox.client("stepfunctions")
    deadline = time.monotonic() + wait_seconds
    while True:
        status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
        if status in _TERMINAL or stop():
            return status
        if time.monotonic() >= deadline:
            if status not in _TERMINAL:
                LOG.warning(
                    "%s still %s after %.0f s; reporting it as is", execution_arn, status, wait_seconds
                )
            return status
        sandbox.settle(timeout=max(0.1, deadline - time.monotonic()), executions=False)
        time.sleep(0.02)


def main(argv: Sequence[str]) -> int:
    arguments = parse_arguments(argv)
    try:
        event = json.loads(arguments.event.read_text())
    except (OSError, ValueError) as error:
        print(f"replay: cannot read the event {arguments.event}: {error}", file=sys.stderr)
        return 2
    with operator_output(verbose=arguments.verbose, log_file=arguments.log_file) as real_stdout:
        try:
            result = replay(
                event,
                mode=arguments.mode,
                template=arguments.template,
                wait_seconds=arguments.wait,
                seed=arguments.seed,
            )
        except Exception as error:
            _report_failure(error, verbose=arguments.verbose, log_file=arguments.log_file)
            return 1
        real_stdout.write(json.dumps(result, indent=2) + "\n")
        real_stdout.flush()
    status = exit_status(result)
    for line in result["sandbox"]["denied"]:
        print(f"replay: IAM refused {line}", file=sys.stderr)
    if status != EXIT_OK and isinstance(result.get("execution"), dict):
        execution = result["execution"]
        if execution.get("awaitingApproval"):
            print(f"replay: {execution['note']}", file=sys.stderr)
            return status
        print(
            f"replay: the workflow did not remediate fully: execution {execution['status']}, "
            f"result {execution.get('result')}",
            file=sys.stderr,
        )
    return status


def _report_failure(error: Exception, *, verbose: bool, log_file: Path) -> None:
    """One line that says what failed, last; the stack trace before it only with -v."""
    if verbose:
        payload = getattr(error.__cause__, "payload", None)
        if isinstance(error, ReplayError) and isinstance(payload, dict):
            print("".join(payload.get("stackTrace", [])), file=sys.stderr, end="")
        else:
            traceback.print_exception(error, file=sys.stderr)
    else:
        print(f"replay: the handler's logs are in {log_file}; -v (make V=1) shows them here", file=sys.stderr)
    line = str(error) if isinstance(error, ReplayError) else f"{type(error).__name__}: {error}"
    print(f"replay: {line}", file=sys.stderr)
