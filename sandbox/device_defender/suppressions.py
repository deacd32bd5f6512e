"""Audit finding suppressions: keyed by check and resource, with an expiry or indefinite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.errors import ServiceError, invalid_request, not_found
from sandbox.device_defender.service import Call, Handler, Params, page, timestamp
from sandbox.device_defender.state import RegionState, Suppression, resource_key


def _key(p: Params) -> tuple[str, str]:
    if p["checkName"] not in catalog.CHECKS:
        raise invalid_request(f"Request contains an invalid Audit Check Name: {p['checkName']}")
    return p["checkName"], resource_key(dict(p["resourceIdentifier"]))


def _suppression(state: RegionState, p: Params) -> Suppression:
    suppression = state.suppressions.get(_key(p))
    if suppression is None:
        raise not_found("The audit suppression does not exist.")
    return suppression


def _expiration(call: Call) -> datetime | None:
    p = call.params
    if p.get("expirationDate") is None:
        return None
    expiration = timestamp(p["expirationDate"])
    if expiration <= call.service.clock.now():
        raise invalid_request("expirationDate must be in the future.")
    return expiration


def create_audit_suppression(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    key = _key(p)
    existing = state.suppressions.get(key)
    if existing is not None:
        if existing.client_request_token == p["clientRequestToken"]:
            return {}
        raise ServiceError("ResourceAlreadyExistsException", "The audit suppression already exists.")
    state.suppressions[key] = Suppression(
        check_name=p["checkName"],
        resource_identifier=dict(p["resourceIdentifier"]),
        expiration=_expiration(call),
        indefinitely=bool(p.get("suppressIndefinitely")),
        description=p.get("description"),
        client_request_token=p["clientRequestToken"],
    )
    return {}


def describe_audit_suppression(call: Call) -> dict[str, Any]:
    return _suppression(call.state, call.params).to_api()


def update_audit_suppression(call: Call) -> dict[str, Any]:
    p = call.params
    suppression = _suppression(call.state, p)
    if p.get("expirationDate") is not None:
        suppression.expiration = _expiration(call)
        suppression.indefinitely = False
    if p.get("suppressIndefinitely") is not None:
        suppression.indefinitely = p["suppressIndefinitely"]
        if suppression.indefinitely:
            suppression.expiration = None
    if p.get("description") is not None:
        suppression.description = p["description"]
    return {}


def delete_audit_suppression(call: Call) -> dict[str, Any]:
    call.state.suppressions.pop(_key(call.params), None)
    return {}


def list_audit_suppressions(call: Call) -> dict[str, Any]:
    p = call.params
    suppressions = [
        s
        for s in call.state.suppressions.values()
        if p.get("checkName") in (None, s.check_name)
        and (
            p.get("resourceIdentifier") is None
            or resource_key(dict(p["resourceIdentifier"])) == resource_key(s.resource_identifier)
        )
    ]
    latest = datetime.max.replace(tzinfo=UTC)
    suppressions.sort(key=lambda s: s.expiration or latest, reverse=p.get("ascendingOrder") is False)
    return page("ListAuditSuppressions", [s.to_api() for s in suppressions], p, "suppressions")


HANDLERS: Final[dict[str, Handler]] = {
    "CreateAuditSuppression": create_audit_suppression,
    "DescribeAuditSuppression": describe_audit_suppression,
    "UpdateAuditSuppression": update_audit_suppression,
    "DeleteAuditSuppression": delete_audit_suppression,
    "ListAuditSuppressions": list_audit_suppressions,
}
