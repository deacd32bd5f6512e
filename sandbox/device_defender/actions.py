"""Mitigation action definitions: create, describe, list, update, delete."""

from __future__ import annotations

from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.errors import ServiceError, not_found
from sandbox.device_defender.service import Call, Handler, Params, page, present
from sandbox.device_defender.state import MitigationActionDef, RegionState


def mitigation_action(state: RegionState, name: str) -> MitigationActionDef:
    action = state.actions.get(name)
    if action is None:
        raise not_found(f"Mitigation action {name} does not exist.")
    return action


def _action_type(params: Params) -> str:
    (member,) = present(params)
    return catalog.ACTION_TYPE_BY_PARAMS[member]


def create_mitigation_action(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    name = p["actionName"]
    if name in state.actions:
        raise ServiceError("ResourceAlreadyExistsException", f"Mitigation action {name} already exists.")
    now = call.service.clock.now()
    params = {k: v for k, v in p["actionParams"].items() if v is not None}
    action = MitigationActionDef(
        name=name,
        action_id=str(call.service.new_id()),
        arn=call.service.arn(call.region, f"mitigationaction/{name}"),
        role_arn=p["roleArn"],
        params=params,
        action_type=_action_type(params),
        created=now,
        modified=now,
        tags=list(p.get("tags") or []),
    )
    state.actions[name] = action
    return {"actionArn": action.arn, "actionId": action.action_id}


def describe_mitigation_action(call: Call) -> dict[str, Any]:
    action = mitigation_action(call.state, call.params["actionName"])
    return {
        "actionName": action.name,
        "actionType": action.action_type,
        "actionArn": action.arn,
        "actionId": action.action_id,
        "roleArn": action.role_arn,
        "actionParams": action.params,
        "creationDate": action.created,
        "lastModifiedDate": action.modified,
    }


def list_mitigation_actions(call: Call) -> dict[str, Any]:
    p = call.params
    items = [
        {"actionName": a.name, "actionArn": a.arn, "creationDate": a.created}
        for a in call.state.actions.values()
        if p.get("actionType") in (None, a.action_type)
    ]
    return page("ListMitigationActions", items, p, "actionIdentifiers")


def update_mitigation_action(call: Call) -> dict[str, Any]:
    p = call.params
    action = mitigation_action(call.state, p["actionName"])
    if p.get("roleArn") is not None:
        action.role_arn = p["roleArn"]
    if p.get("actionParams") is not None:
        action.params = {k: v for k, v in p["actionParams"].items() if v is not None}
        action.action_type = _action_type(action.params)
    action.modified = call.service.clock.now()
    return {"actionArn": action.arn, "actionId": action.action_id}


def delete_mitigation_action(call: Call) -> dict[str, Any]:
    call.state.actions.pop(call.params["actionName"], None)
    return {}


HANDLERS: Final[dict[str, Handler]] = {
    "CreateMitigationAction": create_mitigation_action,
    "DescribeMitigationAction": describe_mitigation_action,
    "ListMitigationActions": list_mitigation_actions,
    "UpdateMitigationAction": update_mitigation_action,
    "DeleteMitigationAction": delete_mitigation_action,
}
