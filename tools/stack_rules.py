"""Does the rules table agree with the mitigation actions a template defines? (tests and tools)

The deployed function checks only that every action a rule names is deployed (its
MITIGATION_ACTION_NAMES setting); this compares the table's action catalogue with the template's
AWS::IoT::MitigationAction resources: type, and the topic a publishing action uses.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from audit_remediator.checks import ActionType
from audit_remediator.errors import RulesError
from audit_remediator.rules import RuleSet

# Every AWS::IoT::MitigationAction property that selects the action type (template.yaml).
ACTION_PARAMS_TYPES: Final[dict[str, ActionType]] = {
    "UpdateDeviceCertificateParams": ActionType.UPDATE_DEVICE_CERTIFICATE,
    "UpdateCACertificateParams": ActionType.UPDATE_CA_CERTIFICATE,
    "AddThingsToThingGroupParams": ActionType.ADD_THINGS_TO_THING_GROUP,
    "ReplaceDefaultPolicyVersionParams": ActionType.REPLACE_DEFAULT_POLICY_VERSION,
    "EnableIoTLoggingParams": ActionType.ENABLE_IOT_LOGGING,
    "PublishFindingToSnsParams": ActionType.PUBLISH_FINDING_TO_SNS,
}


@dataclass(frozen=True, slots=True)
class StackAction:
    type: ActionType
    topic: str | None


def stack_mitigation_actions(template: Mapping[str, Any]) -> dict[str, StackAction]:
    """The AWS::IoT::MitigationAction resources of a parsed template, by logical ID."""
    found: dict[str, StackAction] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::IoT::MitigationAction":
            continue
        params = resource.get("Properties", {}).get("ActionParams", {})
        kinds = [ACTION_PARAMS_TYPES[key] for key in params if key in ACTION_PARAMS_TYPES]
        if len(kinds) != 1:
            raise RulesError(f"{logical_id}: a mitigation action sets exactly one ActionParams member")
        topic = params.get("PublishFindingToSnsParams", {}).get("TopicArn")
        found[logical_id] = StackAction(kinds[0], topic.get("Ref") if isinstance(topic, dict) else topic)
    return found


def problems_against_stack(ruleset: RuleSet, stack_actions: Mapping[str, StackAction]) -> list[str]:
    """Differences between the table's action catalogue and the mitigation actions a stack defines."""
    problems = []
    for name, action in ruleset.table.actions.items():
        defined = stack_actions.get(name)
        if defined is None:
            problems.append(f"action {name} is not an AWS::IoT::MitigationAction in the template")
            continue
        if defined.type is not action.type:
            problems.append(f"action {name} is {defined.type} in the template, {action.type} in the rules")
        if action.type is ActionType.PUBLISH_FINDING_TO_SNS and defined.topic != action.topic:
            problems.append(
                f"action {name} publishes to {defined.topic} in the template, {action.topic} in the rules"
            )
        if defined.topic is not None and defined.topic == ruleset.table.trigger_topic:
            problems.append(f"action {name} publishes findings to the trigger topic {defined.topic}")
    return problems
