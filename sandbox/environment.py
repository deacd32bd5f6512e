"""The process-wide settings a sandbox takes over while it is open: the AWS SDK's environment
variables (so nothing reaches a real account) and boto3's default session."""

from __future__ import annotations

import os
from typing import Any, Final

import boto3

DEFAULT_REGION: Final = "us-east-1"
DEFAULT_ACCOUNT_ID: Final = "123456789012"
_ISOLATED_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": None,
    "AWS_REGION": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_ENDPOINT_URL": None,
    "AWS_RETRY_MODE": None,
    "AWS_MAX_ATTEMPTS": None,
    "MOTO_ACCOUNT_ID": None,
}

_SHARED: dict[str, Any] = {}

Saved = dict[str, str | None]


def isolate_environment(*, region: str, account_id: str) -> Saved:
    """Sets the sandbox's credentials, Region and account (moto's) and unsets what could point the
    SDK elsewhere; returns what to put back with `restore_environment`."""
    values = {**_ISOLATED_ENVIRONMENT, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    if account_id != DEFAULT_ACCOUNT_ID:
        values["MOTO_ACCOUNT_ID"] = account_id
    saved = {name: os.environ.get(name) for name in values}
    _apply(values)
    return saved


def restore_environment(saved: Saved) -> None:
    _apply(saved)


def _apply(values: Saved) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def default_session(region: str) -> boto3.session.Session:
    """boto3's default session for the sandbox (moto resets it when its mock starts, and puts the
    previous one back when it stops), sharing one botocore loader with every sandbox of the
    process: loading service models from disk is most of the cost of creating a client."""
    import botocore.loaders

    loader = _SHARED.get("loader")
    if loader is None:
        loader = _SHARED["loader"] = botocore.loaders.create_loader()
    session = boto3.session.Session(region_name=region)
    session._session.register_component("data_loader", loader)
    return session
