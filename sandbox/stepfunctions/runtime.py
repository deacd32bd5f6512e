"""Installs into moto's Step Functions interpreter, while a sandbox is open, what it lacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.patching import Patch, patch_attribute, restore_patches
from sandbox.stepfunctions.aws_sdk import install_aws_sdk
from sandbox.stepfunctions.callbacks import install_callback_timeouts
from sandbox.stepfunctions.expressions import clear_bindings, install_jsonata
from sandbox.stepfunctions.interpreter import (
    install_assign_after_output,
    install_execution_names,
    install_parse_cache,
)
from sandbox.stepfunctions.roles import install_task_roles
from sandbox.stepfunctions.timing import install_wait_states


class StepFunctionsRuntime:
    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self._patches: list[Patch] = []

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        patch_attribute(self._patches, owner, name, value)

    def install(self) -> None:
        install_jsonata(self._patch, self.clock)
        install_aws_sdk(self._patch)
        install_wait_states(self._patch, self.clock)
        install_callback_timeouts(self._patch, self.clock)
        install_execution_names(self._patch)
        install_parse_cache(self._patch)
        install_assign_after_output(self._patch)
        install_task_roles(self._patch)

    def uninstall(self) -> None:
        restore_patches(self._patches)
        clear_bindings()

    @contextmanager
    def installed(self) -> Iterator[None]:
        self.install()
        try:
            yield
        finally:
            self.uninstall()
