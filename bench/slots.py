"""What the mitigation task slots cost, counted in the sandbox (template.yaml, the real ASL, the emulator).

Two audits of one task each start together on a stack allowing one task in flight
(MaxConcurrentMitigationTasks=1), each task running 30 minutes: one takes the slot at once, the other waits its
turn. Counted from each execution's history:
- the state transitions the slot adds to a task that finds it free. Goal: 3 (enter, take, give back);
- per round of the wait: state transitions and history events. Goal: 4 transitions and 14 events (try, wait,
  read the kill switch, decide); the look for leaked slots (read, list, decide, reclaim) is counted apart.
"""

from collections.abc import Iterable
from typing import Any

from sandbox import Sandbox
from sandbox.executions import ExecutionResult
from sandbox.workflow import PARAMETERS, TEMPLATE, Workflow, audit_plan, task

TIME_SCALE = 0.001
TASK_SECONDS = 1800
TAKE = (
    "Wait for a mitigation task slot in turn",
    "Acquire mitigation task slot",
    "Give back mitigation task slot",
)
ROUND = (
    "Acquire mitigation task slot",
    "Wait for a mitigation task slot",
    "Read kill switch while waiting for a slot",
    "Keep waiting for a slot?",
)
CHECK = (
    "Read mitigation task slots",
    "List running executions",
    "Slot held or leaked?",
    "Reclaim leaked slots",
)


def _entered(result: ExecutionResult, names: Iterable[str]) -> int:
    wanted = set(names)
    return sum(
        1
        for event in result.history
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] in wanted
    )


def _round_events(result: ExecutionResult) -> int:
    """History events from the first entry into a round's state to the last exit of one, less the checks'."""
    names = set(ROUND)
    inside, events, current = False, 0, ""
    for event in result.history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        if event["type"].endswith("StateEntered"):
            current = details["name"]
            inside = current in names
        if inside:
            events += 1
    return events


def run() -> dict[str, Any]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        stack = sandbox.deploy(TEMPLATE, parameters={**PARAMETERS, "MaxConcurrentMitigationTasks": "1"})
        wf = Workflow(sandbox, stack)
        sandbox.emulator.mitigation_task_seconds = TASK_SECONDS
        plans = []
        for _ in range(2):
            audit = wf.seed_audit({"LOGGING_DISABLED_CHECK": [{"account": sandbox.account_id}]})
            planned = task(
                {"findingIds": audit.ids("LOGGING_DISABLED_CHECK")},
                {"LOGGING_DISABLED_CHECK": [wf.action("EnableErrorLoggingAction")]},
            )
            plans.append(audit_plan(audit.task_id, planned))
        arns = [wf.start(plan) for plan in plans]
        results = [wf.wait(arn, timeout=300) for arn in arns]
    waited = max(results, key=lambda r: _entered(r, ["Wait for a mitigation task slot"]))
    free = min(results, key=lambda r: _entered(r, ["Wait for a mitigation task slot"]))
    rounds = _entered(waited, ["Wait for a mitigation task slot"])
    # The waiting task's last take succeeds: it is part of TAKE, not of a round.
    round_transitions = _entered(waited, ROUND) - 1
    return {
        "task_statuses": sorted(r.output_json["tasks"][0]["status"] for r in results),
        "free_slot_state_transitions": _entered(free, TAKE),
        "waiting_rounds": rounds,
        "state_transitions_per_round": round(round_transitions / rounds, 2),
        "history_events_per_round": round((_round_events(waited) - 5) / rounds, 2),
        "leak_checks_state_transitions": _entered(waited, CHECK),
        "waiting_task_slot_state_transitions": _entered(waited, (*TAKE, *ROUND[1:], *CHECK)),
    }
