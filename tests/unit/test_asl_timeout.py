"""The execution timeout covers the longest run the template's parameter bounds and the ASL allow."""

import math
from typing import Any

from audit_remediator.checks import KNOWN_CHECKS
from audit_remediator.models.notifications import AuditCompletionNotification
from audit_remediator.planner import PlanSettings, plan_audit
from audit_remediator.rules import load_rules
from tests.unit.test_asl_contract import (
    ASL,
    ASL_TEXT,
    PARAMETERS,
    QUARANTINE_GUARD,
    max_polls,
    poll_waits,
    task_processor,
)

# A Task without TimeoutSeconds is assumed to answer within this, like the start call whose timeout it is.
# Step Functions bounds a request-response call by the Task's TimeoutSeconds only; none is documented otherwise.
CALL_SECONDS = 60
# The inbox count reads 1 MB pages; this many pages is about 100,000 findings in one window.
COUNT_PAGES = 20
# Step Functions: a STANDARD execution runs at most one year ("Quotas related to state machine executions").
MAX_EXECUTION_SECONDS = 365 * 24 * 3600


def bound(name: str, key: str) -> int:
    return int(PARAMETERS[name][key])


def retry_delays(state: dict[str, Any]) -> float:
    """The longest the retriers wait in all: every retrier exhausted, every full-jitter delay at its cap."""
    return sum(
        min(r["IntervalSeconds"] * r.get("BackoffRate", 2.0) ** k, r.get("MaxDelaySeconds", math.inf))
        for r in state.get("Retry", [])
        for k in range(r.get("MaxAttempts", 3))
    )


def task_seconds(state: dict[str, Any]) -> float:
    attempts = 1 + sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
    return attempts * state.get("TimeoutSeconds", CALL_SECONDS) + retry_delays(state)


def mitigation_task_seconds(initial: int, maximum: int) -> float:
    """One task on its longest path: guard, start (then describe an existing task), every poll, every
    failed finding listed, the outcome recorded."""
    processor = task_processor()
    listed = next(iter(processor["List failed finding executions"]["ItemProcessor"]["States"].values()))
    [start] = [
        n for n, s in processor.items() if s.get("Resource", "").endswith(":startAuditMitigationActionsTask")
    ]
    names = (*QUARANTINE_GUARD[:2], start, "Describe existing task")
    calls = [processor[name] for name in names if name in processor]
    polls = sum(poll_waits(initial, maximum, max_polls())) + max_polls() * task_seconds(
        processor["Read mitigation task status"]
    )
    return (
        sum(task_seconds(state) for state in calls)
        + polls
        + 25 * task_seconds(listed)
        + task_seconds(processor["Record task outcome"])
    )


def largest_audit_plan() -> int:
    """The most tasks the planner makes of one audit with the packaged rules: every check non-compliant."""
    notification = AuditCompletionNotification.model_validate(
        {
            "accountId": "123456789012",
            "taskId": "a" * 32,
            "taskStatus": "COMPLETED",
            "taskType": "ON_DEMAND_AUDIT_TASK",
            "failedChecksCount": 0,
            "canceledChecksCount": 0,
            "nonCompliantChecksCount": len(KNOWN_CHECKS),
            "compliantChecksCount": 0,
            "totalChecksCount": len(KNOWN_CHECKS),
            "taskStartTime": 1763608364191,
            "auditDetails": [
                {
                    "checkName": check,
                    "checkRunStatus": "COMPLETED_NON_COMPLIANT",
                    "nonCompliantResourcesCount": 1,
                    "totalResourcesCount": 1,
                }
                for check in KNOWN_CHECKS
            ],
        }
    )
    settings = PlanSettings(remediation_mode="Enforce", action_name_prefix="stack-")
    return len(plan_audit(notification, load_rules(), settings).tasks)


def worst_case_seconds(parameters: dict[str, int]) -> float:
    states = ASL["States"]
    window_cap = int(ASL_TEXT.split("$min([$states.input.maxResources, ", 1)[1].split("]", 1)[0])
    tasks = max(math.ceil(window_cap / 25), largest_audit_plan())
    waves = math.ceil(tasks / parameters["MaxConcurrentMitigationTasks"])
    window = (
        parameters["FindingWindowSeconds"]
        + 15
        + COUNT_PAGES * task_seconds(states["Count findings in window"])
        + math.ceil((window_cap + 1) / 100) * task_seconds(states["Read finding ids"])
    )
    per_task = mitigation_task_seconds(parameters["PollInitialWaitSeconds"], parameters["PollMaxWaitSeconds"])
    report = task_seconds(states["Record summary"]) + task_seconds(states["Publish report"])
    return window + waves * per_task + report


def test_the_execution_timeout_covers_the_longest_run_the_parameters_allow() -> None:
    # Given every parameter at the bound that makes a run longest, and the largest plan one execution takes
    longest = {
        "FindingWindowSeconds": bound("FindingWindowSeconds", "MaxValue"),
        "MaxConcurrentMitigationTasks": bound("MaxConcurrentMitigationTasks", "MinValue"),
        "PollInitialWaitSeconds": bound("PollInitialWaitSeconds", "MaxValue"),
        "PollMaxWaitSeconds": bound("PollMaxWaitSeconds", "MaxValue"),
    }
    defaults = {name: bound(name, "Default") for name in longest}
    # When the longest run is computed from the ASL's waits, retries and bounds
    worst, usual = worst_case_seconds(longest), worst_case_seconds(defaults)
    # Then the timeout covers it, without being far beyond it, and Step Functions allows it
    assert usual < worst
    assert worst <= ASL["TimeoutSeconds"] <= min(1.25 * worst, MAX_EXECUTION_SECONDS), (worst, usual)
