"""statemachine/remediation.asl.json against template.yaml, botocore's IoT model and the planner (C19-C25, C28)."""

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import jsonata  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_remediator import approvals
from audit_remediator.models.plan import (
    AuditFilterTarget,
    FindingWindow,
    FindingWindowPlan,
    MitigationTaskSpec,
)
from audit_remediator.models.resource_state import PAGE_SIZE
from audit_remediator.planner import window_batches
from audit_remediator.securityhub_pages import FINDINGS_PER_INVOCATION
from tools.sam_template import load

ASL_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "remediation.asl.json"
ASL_TEXT = ASL_PATH.read_text(encoding="utf-8")
ASL: dict[str, Any] = json.loads(ASL_TEXT)
TEMPLATE = load()
MACHINE = TEMPLATE["Resources"]["RemediationStateMachine"]["Properties"]
PARAMETERS = TEMPLATE["Parameters"]
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
IOT_TASK = "arn:aws:states:::aws-sdk:iot:"
MAX_HISTORY_EVENTS = 25_000
# History events Step Functions writes per state, per Map iteration and per retried attempt.
EVENTS = {"Pass": 2, "Choice": 2, "Wait": 2, "Task": 5, "Map": 4, "Succeed": 2, "Fail": 1}
EVENTS_PER_MAP_ITERATION = 2
EVENTS_PER_RETRY = 3
IOT_MODEL = botocore.session.get_session().get_service_model("iot")


def scopes(machine: dict[str, Any] = ASL) -> Iterator[dict[str, Any]]:
    """The top-level machine and every Map's ItemProcessor, each a scope with StartAt and States."""
    yield machine
    for state in machine["States"].values():
        if state["Type"] == "Map":
            yield from scopes(state["ItemProcessor"])


def all_states() -> Iterator[tuple[str, dict[str, Any]]]:
    for scope in scopes():
        yield from scope["States"].items()


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def iot_operation(state: dict[str, Any]) -> Any:
    action = state["Resource"].removeprefix(IOT_TASK)
    return IOT_MODEL.operation_model(action[:1].upper() + action[1:])


def iot_tasks() -> list[tuple[str, dict[str, Any]]]:
    return [(name, s) for name, s in all_states() if s.get("Resource", "").startswith(IOT_TASK)]


def substituted(text: str, overrides: dict[str, Any] | None = None) -> str:
    """The ASL text as CloudFormation deploys it with the parameters' defaults (plus overrides)."""
    values = {name: str(parameter.get("Default", "")) for name, parameter in PARAMETERS.items()}
    values |= {"MitigationActionNamePrefix": "iot-audit-remediator-"} | (overrides or {})
    values |= {name: f"<{name}>" for name in MACHINE["DefinitionSubstitutions"] if name not in values}
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


def expression(text: str, overrides: dict[str, Any] | None = None) -> jsonata.Jsonata:
    return jsonata.Jsonata(substituted(text, overrides).removeprefix("{%").removesuffix("%}").strip())


START = "Start audit mitigation actions task"
# The kill switch is read right before every start; only its Choice leads on to the start.
SWITCH_GUARD = ("Read kill switch before start", "Kill switch released?")
# Before the switch, every enforced task takes a mitigation task slot; only a taken slot leads on to the switch.
SLOT_GUARD = ("Wait for a mitigation task slot in turn", "Acquire mitigation task slot")
SLOT_ROUND = (
    "Acquire mitigation task slot",
    "Wait for a mitigation task slot",
    "Read kill switch while waiting for a slot",
    "Keep waiting for a slot?",
)
SLOT_CHECK = (
    "Read mitigation task slots",
    "List running executions",
    "Slot held or leaked?",
    "Reclaim leaked slots",
)
SLOT_RELEASE = ("Give back mitigation task slot", "Slot left to be reclaimed")
# An approved group passes through its request (a task-token wait) before the start path.
APPROVAL = ("Approval needed?", "Request approval")
QUARANTINE_GUARD = ("Attach quarantine policy", "Verify quarantine policy", "Quarantine policy attached?")
# After the switch, the pre-state of every finding is recorded (a page per loop); only then does the task start.
PRESTATE = ("Record pre-state", "More pre-state to record?")
VERIFICATION = ("Findings to verify?", "Verify task findings", "More findings to verify?")
# With SecurityHubSync on, a waiting group's findings are marked NOTIFIED and a verified task's findings take
# their result, a batch of pages per invocation, each looping back through its Choice.
SECURITY_HUB_NOTIFIED = ("Mark findings awaiting approval in Security Hub", "Approval needed?")
SECURITY_HUB_RESOLVED = ("Resolve verified findings in Security Hub", "Note findings in Security Hub?")
# A group whose approval ended with nothing started has its findings returned to NEW, looping the same way.
SECURITY_HUB_RETURNED = (
    "Return unapproved findings to NEW in Security Hub",
    "Note findings in Security Hub?",
)
# Every way an approval ends with nothing started: rejected and failed go straight to the outcome, an expiry
# through its record (whose own failure is caught too).
APPROVAL_ENDED = ("Request approval", "Record approval expired", "Record task outcome")


def task_processor() -> dict[str, Any]:
    processor: dict[str, Any] = ASL["States"]["Run mitigation tasks"]["ItemProcessor"]["States"]
    return processor


def test_the_workflow_is_standard_and_jsonata() -> None:
    # C28: EXPRESS has no redrive, no 1-year history and at-least-once semantics; the template must say STANDARD.
    assert MACHINE["Type"] == "STANDARD"
    assert ASL["QueryLanguage"] == "JSONata"
    assert 0 < ASL["TimeoutSeconds"] <= 365 * 24 * 3600


def test_placeholders_are_exactly_the_template_substitutions() -> None:
    assert set(PLACEHOLDER.findall(ASL_TEXT)) == set(MACHINE["DefinitionSubstitutions"])


def test_every_transition_names_a_state_of_its_scope_and_every_state_is_reachable() -> None:
    for scope in scopes():
        states, start = scope["States"], scope["StartAt"]
        assert start in states
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for target in transitions(states[name]):
                assert target in states, f"{name} -> {target}: no such state in its scope"
                todo.append(target)
        assert seen == set(states), f"unreachable: {set(states) - seen}"
        for name, state in states.items():
            ends = state.get("End") is True or state["Type"] in {"Choice", "Succeed", "Fail"}
            assert ends != ("Next" in state), f"{name} needs exactly one of Next or End"


# Error names a Task can raise, by the kind of its Resource; ErrorEquals matches them exactly, so a name
# that is never raised makes its retrier or catcher dead code, silently.
# - aws-sdk:<service>:<action>: "<Prefix>.<ErrorName>" with the prefix from the table in "AWS SDK service
#   integrations" (supported-services-awssdk: Iot, DynamoDb - not DynamoDB -, Sns) and the error name with
#   "Exception" appended when it lacks it (same page: S3.BucketAlreadyExistsException).
# - Optimized dynamodb:<action>: "DynamoDB.<...>" ("Call DynamoDB with Step Functions", connect-ddb, "Exception
#   prefix differences"), catch-all DynamoDB.AmazonDynamoDBException. Whether a code without the suffix
#   (RequestLimitExceeded, InternalServerError) keeps it bare (LocalStack's and moto's emulation) or gets the
#   suffix like the Java SDK class the catch-all is named after is unconfirmed: both readings are accepted, and
#   a rule that names one reading of a code must name the other too.
# - Optimized sns:publish: "SNS.<code>" with "Exception" appended when missing (LocalStack's and moto's
#   StateTaskServiceSns). Publish's throttling error is not in botocore's model; SNS answers ThrottlingException
#   (AWS re:Post knowledge center, sns-throttling-exception-errors).
# - Optimized lambda:invoke: Lambda's transient service errors and throttling as "Lambda.<name>", and
#   Lambda.Unknown for out-of-memory errors and time-outs (Step Functions developer guide, "Handle Lambda
#   service exceptions", bp-lambda-serviceexception). A function's own error is its errorType, which this
#   workflow never names: it catches States.ALL.
# - lambda:invoke.waitForTaskToken: the same Lambda names while the function is invoked, then the error a
#   SendTaskFailure names (Step Functions developer guide, "Wait for a Callback with Task Token",
#   connect-to-resource#connect-wait-token): the service's own approval errors.
# - States.*: the names of the Step Functions developer guide's "Error handling" page.
AWS_SDK = "arn:aws:states:::aws-sdk:"
AWS_SDK_PREFIXES = {"iot": "Iot", "dynamodb": "DynamoDb", "sns": "Sns"}
UNMODELLED_ERRORS = {("sns", "Publish"): {"ThrottlingException"}}
STATES_ERRORS = {
    "States.ALL",
    "States.BranchFailed",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
}
LAMBDA_INVOKE_ERRORS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
}
SESSION = botocore.session.get_session()


def with_suffix(name: str) -> str:
    return name if name.endswith("Exception") else name + "Exception"


def error_codes(service: str, action: str) -> set[str]:
    """The error codes of one API operation in botocore's model, plus the documented unmodelled ones."""
    operation = SESSION.get_service_model(service).operation_model(action[:1].upper() + action[1:])
    codes = {shape.metadata.get("error", {}).get("code", shape.name) for shape in operation.error_shapes}
    return codes | UNMODELLED_ERRORS.get((service, operation.name), set())


def raised_errors(resource: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The names a Task with this Resource raises, and the pairs of spellings of one error that AWS's
    documentation leaves open (a rule naming one of a pair must name both)."""
    if resource.startswith(AWS_SDK):
        service, action = resource.removeprefix(AWS_SDK).split(":")
        prefix = AWS_SDK_PREFIXES[service]
        return {f"{prefix}.{with_suffix(code)}" for code in error_codes(service, action)}, []
    if resource.startswith("arn:aws:states:::dynamodb:"):
        codes = error_codes("dynamodb", resource.rsplit(":", 1)[1])
        pairs = [(f"DynamoDB.{code}", f"DynamoDB.{with_suffix(code)}") for code in codes]
        return {name for pair in pairs for name in pair} | {"DynamoDB.AmazonDynamoDBException"}, [
            (bare, suffixed) for bare, suffixed in pairs if bare != suffixed
        ]
    if resource == "arn:aws:states:::sns:publish":
        return {f"SNS.{with_suffix(code)}" for code in error_codes("sns", "Publish")}, []
    if resource == "arn:aws:states:::lambda:invoke":
        return set(LAMBDA_INVOKE_ERRORS), []
    if resource == "arn:aws:states:::lambda:invoke.waitForTaskToken":
        return LAMBDA_INVOKE_ERRORS | {approvals.REJECTED_ERROR, approvals.EXPIRED_ERROR}, []
    raise AssertionError(f"no naming rule for the errors of {resource}: add it with its source")


def error_name_problems(machine: dict[str, Any]) -> list[str]:
    problems = []
    for scope in scopes(machine):
        for name, state in scope["States"].items():
            for kind in ("Retry", "Catch"):
                rules = state.get(kind, [])
                for index, rule in enumerate(rules):
                    names = rule["ErrorEquals"]
                    if "States.ALL" in names and (names != ["States.ALL"] or index != len(rules) - 1):
                        problems.append(f"{name}: States.ALL must stand alone in the last {kind} rule")
                    problems += [
                        f"{name}: {error} is not a Step Functions error name"
                        for error in names
                        if error.startswith("States.") and error not in STATES_ERRORS
                    ]
                    service_names = {error for error in names if not error.startswith("States.")}
                    if not service_names:
                        continue
                    raised, pairs = raised_errors(state["Resource"])
                    problems += [
                        f"{name}: {error} is never raised by {state['Resource']}"
                        for error in sorted(service_names - raised)
                    ]
                    problems += [
                        f"{name}: names {named} but not {other}, and which of the two is raised is unconfirmed"
                        for pair in pairs
                        for named, other in (pair, pair[::-1])
                        if named in service_names and other not in service_names
                    ]
    return problems


def test_every_error_name_is_one_its_state_can_raise() -> None:
    assert error_name_problems(ASL) == []


@pytest.mark.parametrize(
    ("state_path", "wrong"),
    [
        (("Publish report",), "SNS.ThrottledException"),
        (("Record summary",), "DynamoDB.InternalServerErrorExceptionn"),
        (("Count findings in window",), "DynamoDB.ThrottlingException"),
        (("Run mitigation tasks", "Read mitigation task status"), "Iot.ThrottlingExceptions"),
        (("Run mitigation tasks", "Read mitigation task status"), "States.Throttled"),
    ],
)
def test_a_name_no_state_raises_is_caught(state_path: tuple[str, ...], wrong: str) -> None:
    broken = json.loads(ASL_TEXT)
    states = broken["States"]
    for name in state_path[:-1]:
        states = states[name]["ItemProcessor"]["States"]
    states[state_path[-1]]["Retry"][0]["ErrorEquals"].append(wrong)
    assert any(wrong in problem for problem in error_name_problems(broken))


def test_iot_retriers_back_off_with_full_jitter_and_bounded_attempts() -> None:
    for name, state in iot_tasks():
        assert state.get("Retry"), f"{name} has no retrier"
        for retrier in state["Retry"]:
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["BackoffRate"] >= 2, name
            assert 1 <= retrier["MaxAttempts"] <= 10, name
            assert retrier["IntervalSeconds"] <= retrier["MaxDelaySeconds"] <= 300, name


def test_invalid_request_is_never_retried_and_limit_exceeded_waits_longer() -> None:
    # C20, C21
    start = task_processor()[START]
    retried = {error for retrier in start["Retry"] for error in retrier["ErrorEquals"]}
    assert "Iot.InvalidRequestException" not in retried
    assert not retried & {"States.ALL", "States.TaskFailed"}
    assert {
        "Iot.ThrottlingException",
        "Iot.InternalFailureException",
        "Iot.LimitExceededException",
    } <= retried
    for _, state in iot_tasks():
        for retrier in state.get("Retry", []):
            assert not set(retrier["ErrorEquals"]) & {
                "States.ALL",
                "States.TaskFailed",
                "Iot.InvalidRequestException",
            }

    def longest_wait(error: str) -> float:
        retrier = next(r for r in start["Retry"] if error in r["ErrorEquals"])
        return float(
            sum(
                min(
                    retrier["IntervalSeconds"] * retrier["BackoffRate"] ** attempt, retrier["MaxDelaySeconds"]
                )
                for attempt in range(retrier["MaxAttempts"])
            )
        )

    assert longest_wait("Iot.LimitExceededException") >= 10 * longest_wait("Iot.ThrottlingException")
    caught = {error for catcher in start["Catch"] for error in catcher["ErrorEquals"]}
    assert caught == {"Iot.TaskAlreadyExistsException", "Iot.InvalidRequestException"}


QUARANTINE_ACTION = "iot-audit-remediator-QuarantineThingsAction"
PUBLISH_ACTION = "iot-audit-remediator-PublishFindingToReportsAction"


@pytest.mark.parametrize(
    ("mapping", "guarded"),
    [
        ({"DEVICE_CERTIFICATE_SHARED_CHECK": [QUARANTINE_ACTION]}, True),
        ({"A": ["iot-audit-remediator-PublishFindingToReportsAction"], "B": ["x", QUARANTINE_ACTION]}, True),
        ({"LOGGING_DISABLED_CHECK": ["iot-audit-remediator-EnableErrorLoggingAction"]}, False),
        ({"A": [QUARANTINE_ACTION + "2"]}, False),
    ],
)
def test_only_a_task_that_quarantines_passes_through_the_policy_guard(
    mapping: dict[str, list[str]], guarded: bool
) -> None:
    # Every enforced start goes through this Choice; only the guard's last Choice leads on to the kill
    # switch, and only the switch's Choice leads on to the start.
    processor = task_processor()
    entry = processor["Start mitigation task"]
    [rule] = entry["Choices"]
    condition = expression(rule["Condition"], {"QuarantineThingsActionName": QUARANTINE_ACTION})
    states = {"input": {"task": {"auditCheckToActionsMapping": mapping}}}
    assert bool(condition.evaluate(None, {"states": states})) is guarded
    assert rule["Next"] == QUARANTINE_GUARD[0]
    assert entry["Default"] == SLOT_GUARD[0]
    into_slots = {n for n, s in processor.items() if SLOT_GUARD[0] in transitions(s)}
    assert into_slots == {"Start mitigation task", "Quarantine policy attached?"}
    # The switch is reached only with a slot taken: the take's success, or a holder found to be this task.
    into_switch = {n for n, s in processor.items() if SWITCH_GUARD[0] in transitions(s)}
    assert into_switch == {SLOT_GUARD[1], "Slot held or leaked?"}
    assert processor[SLOT_GUARD[1]]["Next"] == SWITCH_GUARD[0]
    into_prestate = {n for n, s in processor.items() if PRESTATE[0] in transitions(s)}
    assert into_prestate == {SWITCH_GUARD[1], PRESTATE[1]}
    assert [c["Next"] for c in processor[SWITCH_GUARD[1]]["Choices"]] == [START, PRESTATE[0]]
    into_start = {n for n, s in processor.items() if START in transitions(s)}
    assert into_start == {SWITCH_GUARD[1], PRESTATE[1]}
    assert processor[PRESTATE[1]]["Default"] == START
    attached = processor["Quarantine policy attached?"]
    assert [c["Next"] for c in attached["Choices"]] == [SLOT_GUARD[0]]
    assert attached["Default"] == "Quarantine blocked"


def test_every_catcher_keeps_the_error_and_its_cause() -> None:
    catchers = [catcher for _, state in all_states() for catcher in state.get("Catch", [])]
    assert catchers
    for catcher in catchers:
        kept = json.dumps([catcher.get("Output"), catcher.get("Assign")])
        assert "$states.errorOutput" in kept, catcher


def test_task_already_exists_leads_only_to_describing_that_task() -> None:
    # C18: never a new task id - the only states after the catch describe, compare, wait or record.
    processor = task_processor()
    catcher = next(
        c for c in processor[START]["Catch"] if "Iot.TaskAlreadyExistsException" in c["ErrorEquals"]
    )
    describe = processor[catcher["Next"]]
    assert describe["Resource"] == IOT_TASK + "describeAuditMitigationActionsTask"
    assert describe["Arguments"] == {"TaskId": "{% $job.task.taskId %}"}
    after = processor[describe["Next"]]
    assert {c["Next"] for c in after["Choices"]} | {after["Default"]} == {
        "Wait for mitigation task",
        "Record task outcome",
    }


def poll_loop() -> list[str]:
    """The states of the status loop: those on a path from the poll wait back to it."""
    processor = task_processor()
    start = "Wait for mitigation task"
    loop, path = set(), [start]

    def walk(name: str, trail: list[str]) -> None:
        for target in transitions(processor[name]):
            if target == start:
                loop.update(trail)
            elif target not in trail:
                walk(target, [*trail, target])

    walk(start, path)
    return sorted(loop)


def max_polls() -> int:
    finished = task_processor()["Mitigation task finished?"]
    bounds = [int(m) for c in finished["Choices"] for m in re.findall(r"\$polls >= (\d+)", c["Condition"])]
    assert len(bounds) == 1, "the poll loop must be bounded by exactly one counter condition"
    return bounds[0]


def retries(state: dict[str, Any]) -> int:
    return sum(retrier["MaxAttempts"] for retrier in state.get("Retry", []))


def slot_wait_bounds() -> tuple[int, int, int]:
    """The most failed takes of a slot, and which of them (round % modulus == remainder) look for leaked slots."""
    keep_waiting = task_processor()["Keep waiting for a slot?"]
    conditions = " ".join(choice["Condition"] for choice in keep_waiting["Choices"])
    bounds = [int(m) for m in re.findall(r"\$slotRounds >= (\d+)", conditions)]
    checks = re.findall(r"\$slotRounds % (\d+) = (\d+)", conditions)
    assert len(bounds) == 1, "the wait for a slot must be bounded by exactly one counter condition"
    assert len(checks) == 1, "leaked slots must be looked for on a fixed schedule"
    return bounds[0], int(checks[0][0]), int(checks[0][1])


def slot_wait_events() -> tuple[int, int]:
    """History events of the longest wait for a slot, and the retries its states may add."""
    processor = task_processor()
    rounds, modulus, remainder = slot_wait_bounds()
    per_round = sum(EVENTS[processor[name]["Type"]] for name in SLOT_ROUND)
    # A check ends in another take, which is the next round's (its failure counts as a round).
    per_check = sum(EVENTS[processor[name]["Type"]] for name in SLOT_CHECK)
    checks = sum(1 for failed in range(1, rounds) if failed % modulus == remainder)
    retried = sum(retries(processor[name]) for name in (*SLOT_ROUND, *SLOT_CHECK))
    return rounds * per_round + checks * per_check, EVENTS_PER_RETRY * retried * (rounds + checks)


def test_the_wait_for_a_slot_is_bounded_and_its_rounds_are_the_retries() -> None:
    # D36: a start waits its turn; every round reads the kill switch, and the rounds are bounded.
    processor = task_processor()
    rounds, modulus, remainder = slot_wait_bounds()
    assert (rounds, modulus, remainder) == (7, 3, 2)
    assert sum(EVENTS[processor[name]["Type"]] for name in SLOT_ROUND) == 14
    assert all(not processor[name].get("Retry") for name in (*SLOT_ROUND, *SLOT_CHECK))
    acquire = processor["Acquire mitigation task slot"]
    [full, *_] = acquire["Catch"]
    assert "DynamoDB.ConditionalCheckFailedException" in full["ErrorEquals"]
    assert full["Next"] == "Wait for a mitigation task slot"


def slot_waits(initial: int, maximum: int) -> list[int]:
    wait = expression(
        task_processor()["Wait for a mitigation task slot"]["Seconds"],
        {"PollInitialWaitSeconds": initial, "PollMaxWaitSeconds": maximum},
    )
    return [int(wait.evaluate(None, {"slotRounds": k})) for k in range(1, slot_wait_bounds()[0] + 1)]


def test_the_wait_for_a_slot_backs_off_to_about_an_hour_with_the_defaults() -> None:
    initial = int(PARAMETERS["PollInitialWaitSeconds"]["Default"])
    maximum = int(PARAMETERS["PollMaxWaitSeconds"]["Default"])
    assert slot_waits(initial, maximum) == [120, 240, 480, 900, 900, 900, 900]
    assert slot_waits(1, 3600) == [4, 8, 16, 32, 64, 128, 256]


def test_a_task_that_never_ends_stays_far_below_the_history_limit() -> None:
    # C22: iterations x events per iteration, from the ASL itself.
    processor = task_processor()
    loop = poll_loop()
    assert loop == [
        "Mitigation task finished?",
        "Read kill switch while running",
        "Read mitigation task status",
        "Wait for mitigation task",
    ]
    per_iteration = sum(EVENTS[processor[name]["Type"]] for name in loop)
    per_iteration_retrying = per_iteration + sum(EVENTS_PER_RETRY * retries(processor[name]) for name in loop)
    findings_map = processor["List failed finding executions"]
    listing = EVENTS["Map"] + 25 * (
        EVENTS_PER_MAP_ITERATION
        + sum(EVENTS[s["Type"]] for s in findings_map["ItemProcessor"]["States"].values())
    )
    straight = sum(
        EVENTS[processor[name]["Type"]]
        for name in (
            "Prepare mitigation task",
            "Dry run or enforce?",
            *APPROVAL,
            "Start mitigation task",
            *QUARANTINE_GUARD,
            *SWITCH_GUARD,
            *PRESTATE,
            START,
            "Describe existing task",
            "Same task as planned?",
            *VERIFICATION,
            "Record task outcome",
            "Note findings in Security Hub?",
            *SECURITY_HUB_NOTIFIED,
            "Task outcome recorded",
        )
    )
    # A task's findings either take their verification to Security Hub or, unverified, a completion note.
    security_hub_after = max(
        EVENTS[processor["Note completed findings in Security Hub"]["Type"]],
        sum(EVENTS[processor[name]["Type"]] for name in SECURITY_HUB_RESOLVED),
    )
    slots = sum(EVENTS[processor[name]["Type"]] for name in (*SLOT_GUARD, *SLOT_RELEASE))
    waiting, waiting_retries = slot_wait_events()
    per_task = (
        EVENTS_PER_MAP_ITERATION
        + straight
        + security_hub_after
        + slots
        + waiting
        + listing
        + max_polls() * per_iteration
    )
    # Every retrier exhausted on every call (the last attempt then succeeding or caught).
    retried = sum(
        retries(processor[name])
        for name in (
            *APPROVAL,
            *QUARANTINE_GUARD,
            *SWITCH_GUARD,
            *PRESTATE,
            START,
            "Describe existing task",
            *VERIFICATION,
            "Record task outcome",
            *SLOT_RELEASE,
            SECURITY_HUB_NOTIFIED[0],
        )
    ) + max(
        retries(processor["Note completed findings in Security Hub"]),
        retries(processor[SECURITY_HUB_RESOLVED[0]]),
    )
    listed = next(iter(findings_map["ItemProcessor"]["States"].values()))
    per_task_retrying = (
        per_task
        + EVENTS_PER_RETRY * (retried + 25 * retries(listed))
        + waiting_retries
        + max_polls() * (per_iteration_retrying - per_iteration)
    )

    assert per_iteration == 14
    assert waiting == 132, waiting
    assert per_task_retrying <= 2_500, per_task_retrying

    # The most tasks one execution runs: a finding window at its cap, 25 findings per task.
    cap = re.search(r"\$min\(\[\$states\.input\.maxResources, (\d+)\]\)", ASL_TEXT)
    assert cap is not None, "a finding window's findings must be capped"
    window_cap = int(cap.group(1))
    tasks = math.ceil(window_cap / 25)
    top_level = 100 + 2 * EVENTS["Task"] * math.ceil(window_cap / 100)
    # A quarantine task's attach-and-read-back of the deny-all policy costs 12 events, the longest wait for a
    # mitigation task slot 132, the approval request 7, pre-state and verification a page each: with every task
    # waiting its longest, two thirds. Little room is left: a task's life in its own child execution (its own
    # history) is the way to grow the per-task path further.
    assert tasks * per_task + top_level <= MAX_HISTORY_EVENTS * 2 / 3
    assert tasks * per_task_retrying + top_level < MAX_HISTORY_EVENTS


@pytest.mark.parametrize(
    ("mapping", "recorded_first"),
    [
        ({"LOGGING_DISABLED_CHECK": [PUBLISH_ACTION]}, False),
        ({"LOGGING_DISABLED_CHECK": [PUBLISH_ACTION, "iot-audit-remediator-EnableErrorLoggingAction"]}, True),
        ({"A": [PUBLISH_ACTION], "B": [QUARANTINE_ACTION]}, True),
    ],
)
def test_only_a_task_that_publishes_and_nothing_else_starts_without_a_pre_state(
    mapping: dict[str, list[str]], recorded_first: bool
) -> None:
    switch = task_processor()[SWITCH_GUARD[1]]
    released = {"pulled": False}
    skip = expression(
        switch["Choices"][0]["Condition"], {"MitigationActionNamePrefix": "iot-audit-remediator-"}
    )
    skipped = bool(
        skip.evaluate(
            None, {"killSwitch": released, "job": {"task": {"auditCheckToActionsMapping": mapping}}}
        )
    )
    assert skipped is not recorded_first
    pulled = skip.evaluate(
        None, {"killSwitch": {"pulled": True}, "job": {"task": {"auditCheckToActionsMapping": mapping}}}
    )
    assert not pulled


def test_pre_state_and_verification_of_a_whole_audit_page_within_the_history_limit() -> None:
    # A whole-audit target of 100,000 findings: each loop runs once per page of PAGE_SIZE findings.
    processor = task_processor()
    for record, more in (PRESTATE, VERIFICATION[1:]):
        assert processor[more]["Choices"][0]["Next"] == record
    loops = (*PRESTATE, *VERIFICATION[1:])
    per_page = sum(EVENTS[processor[name]["Type"]] for name in loops)
    pages = math.ceil(100_000 / PAGE_SIZE)
    retrying = per_page + EVENTS_PER_RETRY * sum(
        retries(processor[name]) for name in (*PRESTATE, *VERIFICATION)
    )
    assert per_page * pages <= MAX_HISTORY_EVENTS * 0.25, per_page * pages
    # Every page retried to its last attempt still leaves room for the rest of the execution.
    assert retrying * pages < MAX_HISTORY_EVENTS * 0.75, retrying * pages


def test_security_hub_steps_of_a_whole_audit_stay_within_the_history_limit() -> None:
    # The same 100,000 findings awaiting approval and then verified, with SecurityHubSync on: each Security Hub
    # loop runs once per FINDINGS_PER_INVOCATION findings, beside the pre-state and verification loops.
    processor = task_processor()
    for task_name, choice in (SECURITY_HUB_NOTIFIED, SECURITY_HUB_RESOLVED):
        assert processor[task_name]["Next"] == choice
        assert processor[choice]["Choices"][0]["Next"] == task_name
    invocations = math.ceil(100_000 / FINDINGS_PER_INVOCATION)
    per_loop = sum(
        EVENTS[processor[name]["Type"]] for name in (*SECURITY_HUB_NOTIFIED, *SECURITY_HUB_RESOLVED)
    )
    page_loops = sum(EVENTS[processor[name]["Type"]] for name in (*PRESTATE, *VERIFICATION[1:]))
    retrying = per_loop + EVENTS_PER_RETRY * sum(
        retries(processor[name]) for name in (SECURITY_HUB_NOTIFIED[0], SECURITY_HUB_RESOLVED[0])
    )
    assert per_loop * invocations <= MAX_HISTORY_EVENTS * 0.1, per_loop * invocations
    assert page_loops * math.ceil(100_000 / PAGE_SIZE) + retrying * invocations < MAX_HISTORY_EVENTS * 0.5


def ended_approval_events(findings: int) -> int:
    """History of a group whose approval was rejected, expired or never recorded, every retrier exhausted: its
    findings marked NOTIFIED and then returned to NEW, a batch of pages per invocation each way, and no
    mitigation task started."""
    processor = task_processor()
    invocations = math.ceil(findings / FINDINGS_PER_INVOCATION)
    loops = (*SECURITY_HUB_NOTIFIED, *SECURITY_HUB_RETURNED)
    once = (
        "Prepare mitigation task",
        "Dry run or enforce?",
        SECURITY_HUB_NOTIFIED[1],
        *APPROVAL_ENDED,
        *SLOT_RELEASE,
        SECURITY_HUB_RETURNED[1],
        "Task outcome recorded",
    )
    events = sum(EVENTS[processor[name]["Type"]] for name in once) + invocations * sum(
        EVENTS[processor[name]["Type"]] for name in loops
    )
    retried = sum(retries(processor[name]) for name in (*APPROVAL_ENDED, *SLOT_RELEASE)) + invocations * sum(
        retries(processor[name]) for name in (SECURITY_HUB_NOTIFIED[0], SECURITY_HUB_RETURNED[0])
    )
    return EVENTS_PER_MAP_ITERATION + events + EVENTS_PER_RETRY * retried


def test_an_approval_that_ends_without_a_start_returns_its_findings_within_the_history_limit() -> None:
    processor = task_processor()
    request = processor[APPROVAL_ENDED[0]]
    assert {c["Next"] for c in request["Catch"]} == set(APPROVAL_ENDED[1:])
    assert processor[APPROVAL_ENDED[1]]["Next"] == APPROVAL_ENDED[2]
    returned, choice = SECURITY_HUB_RETURNED
    assert processor[returned]["Next"] == choice
    assert returned in [c["Next"] for c in processor[choice]["Choices"]]

    # A whole audit of 100,000 findings fits in a quarter of the history.
    assert ended_approval_events(100_000) < MAX_HISTORY_EVENTS * 0.25, ended_approval_events(100_000)
    # A finding window's task (25 findings) costs less than a started task's poll loop alone, so the bound on a
    # window of started tasks covers a window of ended approvals too.
    poll_loop_events = max_polls() * sum(EVENTS[processor[name]["Type"]] for name in poll_loop())
    assert ended_approval_events(25) < poll_loop_events, (ended_approval_events(25), poll_loop_events)


def poll_waits(initial: int, maximum: int, polls: int) -> list[int]:
    wait = expression(
        task_processor()["Wait for mitigation task"]["Seconds"],
        {
            "PollInitialWaitSeconds": initial,
            "PollMaxWaitSeconds": maximum,
        },
    )
    return [int(wait.evaluate(None, {"polls": k})) for k in range(polls)]


@pytest.mark.parametrize(("initial", "maximum"), [(15, 300), (1, 3600), (60, 60), (300, 15)])
def test_poll_waits_double_up_to_the_cap(initial: int, maximum: int) -> None:
    assert poll_waits(initial, maximum, 12) == [min(maximum, initial * 2**k) for k in range(12)]


def polls_to_see(task_seconds: int, initial: int, maximum: int) -> int:
    elapsed, polls = 0, 0
    for wait in poll_waits(initial, maximum, max_polls()):
        elapsed, polls = elapsed + wait, polls + 1
        if elapsed >= task_seconds:
            return polls
    return polls


def test_the_poll_schedule_with_the_template_defaults() -> None:
    initial = int(PARAMETERS["PollInitialWaitSeconds"]["Default"])
    maximum = int(PARAMETERS["PollMaxWaitSeconds"]["Default"])
    # 30, 60, 120, 240, 480 s, then every 900 s: a 60-minute task is read 8 times.
    assert [polls_to_see(minutes * 60, initial, maximum) for minutes in (1, 10, 60)] == [2, 5, 8]
    # The longest task followed to its end with the defaults: about 3 hours.
    assert sum(poll_waits(initial, maximum, max_polls())) >= 3 * 3600


def window_plan(prefix: str, finding_ids: list[str]) -> FindingWindowPlan:
    return FindingWindowPlan(
        account_id="123456789012",
        audit_task_id="a" * 32,
        rules_version="db8c21dd2cb7",
        remediation_mode="Enforce",
        window=FindingWindow(inbox_key="INBOX#x", closes_at=0, seconds=300),
        check="DEVICE_CERTIFICATE_EXPIRING_CHECK",
        mode="enforce",
        max_resources=None,
        audit_check_to_actions_mapping={
            "DEVICE_CERTIFICATE_EXPIRING_CHECK": ["stack-PublishFindingToReportsAction"]
        },
        task_id_prefix=prefix,
        client_request_token_prefix="t" + prefix[:39],
        over_cap_task=MitigationTaskSpec(
            task_id=prefix + "-whole",
            client_request_token="t" + prefix[:39],
            mode="approve",
            target=AuditFilterTarget(
                audit_task_id="a" * 32,
                audit_check_to_reason_code_filter={
                    "DEVICE_CERTIFICATE_EXPIRING_CHECK": ["DEVICE_CERTIFICATE_EXPIRING"]
                },
            ),
            audit_check_to_actions_mapping={
                "DEVICE_CERTIFICATE_EXPIRING_CHECK": ["stack-PublishFindingToReportsAction"]
            },
            checks=["DEVICE_CERTIFICATE_EXPIRING_CHECK"],
            affected_resources=0,
        ),
    )


FINDING_ID = st.text(alphabet="abcdefABCDEF0123456789-_", min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    finding_ids=st.lists(FINDING_ID, min_size=1, max_size=120),
    prefix=st.from_regex(r"[a-zA-Z0-9_-]{1,60}", fullmatch=True),
)
def test_window_batches_in_jsonata_match_the_planner(finding_ids: list[str], prefix: str) -> None:
    # C24: the same sorted batches of at most 25 with ids <prefix>-<i> as planner.window_batches.
    plan = window_plan(prefix, finding_ids)
    batches = expression(ASL["States"]["Plan window tasks"]["Output"]).evaluate(
        None, {"states": {"input": plan.model_dump(by_alias=True)}, "findingIds": finding_ids}
    )
    expected = [
        task.model_dump(by_alias=True, exclude_none=True) for task in window_batches(plan, finding_ids)
    ]
    assert batches["tasks"] == expected
    assert all(len(task["target"]["findingIds"]) <= 25 for task in batches["tasks"])


def outcome(status: str, mode: str = "enforce", **counts: int) -> dict[str, Any]:
    statistics = {"total": sum(counts.values())} | {
        key: counts.get(key, 0) for key in ("succeeded", "failed", "skipped", "canceled")
    }
    return {
        "taskId": f"task-{status}",
        "mode": mode,
        "checks": ["C"],
        "status": status,
        "statistics": {"C": statistics},
    }


DRY = {"taskId": "dry", "mode": "dry-run", "checks": ["C"], "status": "DRY_RUN", "request": {"TaskId": "dry"}}
CAPPED = [{"check": "C", "affectedResources": 40, "maxResources": 25, "actions": ["a"]}]


@pytest.mark.parametrize(
    ("results", "capped", "result"),
    [
        ([outcome("COMPLETED", succeeded=3)], [], "full-success"),
        ([outcome("COMPLETED", succeeded=3), DRY], [], "full-success"),
        ([], [], "full-success"),
        ([outcome("COMPLETED", succeeded=3, skipped=1)], [], "partial"),
        ([outcome("FAILED", succeeded=2, failed=1)], [], "partial"),
        ([outcome("CANCELED", succeeded=1, canceled=2)], [], "partial"),
        ([outcome("COMPLETED", succeeded=3)], CAPPED, "partial"),
        ([outcome("FAILED", failed=3)], [], "failed"),
        ([outcome("CANCELED", canceled=3)], [], "failed"),
        ([{"taskId": "r", "mode": "enforce", "checks": ["C"], "status": "REJECTED"}], [], "failed"),
        ([], CAPPED, "needs-human"),
        ([DRY], CAPPED, "needs-human"),
        ([DRY], [], "dry-run"),
    ],
)
def test_the_report_tells_success_partial_failure_dry_run_and_needs_human_apart(
    results: list[dict[str, Any]], capped: list[dict[str, Any]], result: str
) -> None:
    # C23
    summary = expression(ASL["States"]["Summarize results"]["Output"]).evaluate(
        None,
        {
            "states": {"input": {"results": results}, "context": {"Execution": {"Id": "arn"}}},
            "capped": capped,
            "skipped": {},
            "auditTaskId": "a",
            "rulesVersion": "v",
            "planKind": "audit",
            "remediationMode": "Enforce",
        },
    )
    assert summary["result"] == result
    assert all("request" not in task for task in summary["tasks"])
    assert [task["request"] for task in summary["dryRun"]] == [r["request"] for r in results if r is DRY]
