"""EventBridge rules' targets and input transformers, where moto's differ from AWS's.

moto's EventBridge delivers to SQS and a few other targets but not to SNS topics, functions or state
machines, and splices an InputTransformer's values into its template as raw text.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import boto3

from sandbox.faults import CallLog
from sandbox.iam.enforcement import Enforcement
from sandbox.iam.principals import role_session
from sandbox.iam.requests import WRITE_KEY_ACTIONS, Access
from sandbox.iam.service_contexts import events_assume_context
from sandbox.patching import Patch, patch_attribute, restore_patches

_OUR_TARGETS: Final = frozenset({"sns", "lambda", "states"})
_INPUT_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def transform_input(
    input_template: str | None, input_paths_map: Mapping[str, str], event: Mapping[str, Any]
) -> Any:
    """EventBridge's InputTransformer. In a JSON template a placeholder outside quotes becomes the
    JSON value (a string gets its quotes), inside quotes its text; moto splices the raw text
    everywhere, which breaks templates such as `{"status": <status>}`."""
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

    if not input_template:
        return dict(event)
    values: dict[str, Any] = {
        "aws.events.event.json": dict(event),
        "aws.events.event.ingestion-time": event.get("time"),
    }
    for name, path in input_paths_map.items():
        matches = parse(path).find(dict(event))
        values[name] = matches[0].value if matches else None
    is_json = input_template.lstrip().startswith(("{", "["))
    pieces: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(input_template):
        character = input_template[position]
        match = _INPUT_PLACEHOLDER.match(input_template, position) if character == "<" else None
        if match is not None and match.group(1) in values:
            value = values[match.group(1)]
            if in_string or not is_json:
                text = value if isinstance(value, str) else "" if value is None else json.dumps(value)
                pieces.append(json.dumps(text)[1:-1] if in_string else text)
            else:
                pieces.append(json.dumps(value))
            position = match.end()
            continue
        if is_json and not escaped and character == '"':
            in_string = not in_string
        escaped = in_string and character == "\\" and not escaped
        pieces.append(character)
        position += 1
    text = "".join(pieces)
    return json.loads(text) if is_json else text


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What a rule hands its target: Input, InputPath, InputTransformer or the whole event."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        matches = parse(target["InputPath"]).find(dict(event))
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return transform_input(transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), event)
    return dict(event)


def _service(target: Mapping[str, Any]) -> str:
    return str(target["Arn"]).split(":")[2]


class EventBridgeTargets:
    """Delivers matching events to the targets moto's EventBridge leaves out: SNS topics, functions
    (asynchronously, through `invoke_async`) and state machines; the rest stay with moto."""

    def __init__(
        self,
        *,
        region: str,
        calls: CallLog,
        invoke_async: Callable[[str, Any], object],
        is_open: Callable[[], bool],
        iam: Enforcement | None = None,
    ) -> None:
        self.region = region
        self._iam = iam
        self._calls = calls
        self._invoke_async = invoke_async
        self._is_open = is_open
        self._patches: list[Patch] = []

    def install(self) -> None:
        from moto.events.models import Rule
        from moto.events.utils import EventTemplateParser

        patch_attribute(self._patches, EventTemplateParser, "parse", staticmethod(transform_input))
        original_send = Rule.__dict__["send_to_targets"]
        targets = self

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            if not rule.event_pattern.get_pattern():
                # PutRule (botocore's events model): "Rules with EventPatterns are triggered when a matching
                # event is observed. Rules with ScheduleExpressions self-trigger based on the given schedule."
                # A scheduled rule without a pattern matches no event (moto's empty pattern matches all).
                return
            moto_rule = copy.copy(rule)
            moto_rule.targets = [t for t in rule.targets if _service(t) not in _OUR_TARGETS]
            original_send(moto_rule, original_event, transform_input)
            targets.deliver(rule, original_event)

        patch_attribute(self._patches, Rule, "send_to_targets", send_to_targets)

    def uninstall(self) -> None:
        restore_patches(self._patches)

    def deliver(self, rule: Any, event: Mapping[str, Any]) -> None:
        if not self._is_open() or not rule.event_pattern.matches_event(event):
            return
        for target in rule.targets:
            service = _service(target)
            if service not in _OUR_TARGETS:
                continue
            if not self._allowed(rule, target, service):
                self._dead_letter(rule, target, event)
                continue
            payload = target_input(target, event)
            body = payload if isinstance(payload, str) else json.dumps(payload)
            with self._calls.pause():
                if service == "sns":
                    boto3.client("sns", region_name=self.region).publish(TopicArn=target["Arn"], Message=body)
                elif service == "lambda":
                    self._invoke_async(target["Arn"], payload)
                else:
                    boto3.client("stepfunctions", region_name=self.region).start_execution(
                        stateMachineArn=target["Arn"], input=body
                    )

    def _allowed(self, rule: Any, target: Mapping[str, Any], service: str) -> bool:
        """EventBridge delivers to a topic or function as events.amazonaws.com, with aws:SourceArn the
        rule's ARN (EventBridge user guide, "Using resource-based policies for Amazon EventBridge"); to
        a state machine with the target's role."""
        if self._iam is None:
            return True
        arn = str(target["Arn"])
        if service == "sns":
            access = Access("sns:Publish", arn, "topic", key_actions=WRITE_KEY_ACTIONS)
            return self._iam.deliver("events.amazonaws.com", access, source_arn=rule.arn, operation="Publish")
        if service == "lambda":
            access = Access("lambda:InvokeFunction", arn, "function")
            return self._iam.deliver("events.amazonaws.com", access, source_arn=rule.arn, operation="Invoke")
        role = target.get("RoleArn")
        context = events_assume_context(self._iam.where.account, rule.arn)
        if not role or self._iam.check_assume_role("events.amazonaws.com", str(role), context) is not None:
            return False
        return (
            self._iam.check_role_actions(
                role_session(str(role), "EventBridge"), [Access("states:StartExecution", arn)]
            )
            is None
        )

    def _dead_letter(self, rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """A refused delivery is not retried: EventBridge sends the event to the target's dead-letter
        queue, if it has one and may write there, with the rule, target and error as message attributes
        (EventBridge user guide, "Using dead-letter queues to process undelivered events")."""
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if self._iam is None or not queue_arn:
            return
        access = Access("sqs:SendMessage", queue_arn, "queue", key_actions=WRITE_KEY_ACTIONS)
        if not self._iam.deliver(
            "events.amazonaws.com", access, source_arn=rule.arn, operation="SendMessage"
        ):
            return
        from moto.sqs.models import sqs_backends

        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": str(target["Arn"]),
            "ERROR_CODE": "NO_PERMISSIONS",
            "ERROR_MESSAGE": "EventBridge is not authorized to deliver to the target.",
        }
        queue = queue_arn.split(":")
        sqs_backends[queue[4]][queue[3]].send_message(
            queue[5],
            json.dumps(dict(event)),
            message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
