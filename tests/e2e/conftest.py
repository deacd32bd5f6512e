"""The driver: a stack named by STACK_NAME in a real account (`make e2e STACK_NAME=...`), else the sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.drivers import AwsDriver, Driver, SandboxDriver


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    stack_name = os.environ.get("STACK_NAME")
    chosen: Driver = (
        AwsDriver(stack_name, enforce=os.environ.get("ENFORCE") == "1") if stack_name else SandboxDriver()
    )
    try:
        yield chosen
    finally:
        chosen.close()
