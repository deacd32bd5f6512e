"""The deployer's boto3 clients, one per service, Region and account."""

from typing import Any

import boto3

_SESSIONS: dict[str, boto3.session.Session] = {}
_CLIENTS: dict[tuple[str, str, str], Any] = {}


def client(service: str, region: str, account_id: str) -> Any:
    """The deployer's clients outlive a sandbox: creating clients is a large part of a deploy.
    They carry moto's and the sandbox's hooks, which act only while a sandbox is open."""
    key = (service, region, account_id)
    if key not in _CLIENTS:
        session = _SESSIONS.get(account_id)
        if session is None:
            session = _SESSIONS[account_id] = boto3.session.Session()
            default = boto3.DEFAULT_SESSION
            if default is not None:
                session._session.register_component(
                    "data_loader", default._session.get_component("data_loader")
                )
        _CLIENTS[key] = session.client(service, region_name=region)  # type: ignore[call-overload]
    return _CLIENTS[key]
