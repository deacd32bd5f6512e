"""Step Functions state machines, their definition with DefinitionSubstitutions applied."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.intrinsics import SUBSTITUTION
from sandbox.cloudformation.values import text
from sandbox.deployer.context import Created, ResourceContext
from sandbox.deployer.properties import cfn_to_api
from sandbox.iam.service_contexts import states_assume_context


def state_machine(d: ResourceContext, logical_id: str, p: dict[str, Any]) -> Created:
    if "DefinitionS3Location" in p:
        location = p["DefinitionS3Location"]
        definition = d.artifact(location["Bucket"], location["Key"]).read_text()
    elif "DefinitionString" in p:
        definition = str(p["DefinitionString"])
    elif "Definition" in p:
        definition = json.dumps(p["Definition"])
    else:
        raise DeployError(f"{logical_id}: no Definition, DefinitionString or DefinitionS3Location")
    definition = substitute_definition(definition, p.get("DefinitionSubstitutions", {}), logical_id)
    name = p.get("StateMachineName") or d.physical_name(logical_id, max_length=80, stack_prefix=False)
    request = cfn_to_api(
        {
            "Name": name,
            "Definition": definition,
            "RoleArn": p["RoleArn"],
            "Type": p.get("StateMachineType", "STANDARD"),
            "Tags": p.get("Tags", []),
        },
        "stepfunctions",
        "CreateStateMachine",
    )
    for key in ("LoggingConfiguration", "TracingConfiguration"):
        if key in p:
            request.update(cfn_to_api({key: p[key]}, "stepfunctions", "CreateStateMachine"))
    expected_arn = f"arn:aws:states:{d.region}:{d.account_id}:stateMachine:{name}"
    context = states_assume_context(d, expected_arn)
    if d.iam is not None and d.iam.check_assume_role("states.amazonaws.com", str(p["RoleArn"]), context):
        # CreateStateMachine's answer when Step Functions cannot assume the role.
        raise DeployError(
            f"{logical_id}: AccessDeniedException: Neither the global service principal states.amazonaws.com, "
            f"nor the regional one is authorized to assume the provided role ({p['RoleArn']})."
        )
    arn = d.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"})


def substitute_definition(definition: str, substitutions: Mapping[str, Any], logical_id: str = "") -> str:
    """CloudFormation's DefinitionSubstitutions: every ${Key} in the definition text is replaced."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return text(substitutions[key]) if key in substitutions else match.group(0)

    result = SUBSTITUTION.sub(replace, definition)
    leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", result)))
    if leftover:
        raise DeployError(
            f"{logical_id}: definition placeholders without DefinitionSubstitutions: {leftover}"
        )
    return result


def delete_state_machine(d: ResourceContext, created: Created, _p: dict[str, Any]) -> None:
    d.client("stepfunctions").delete_state_machine(stateMachineArn=created.physical_id)
