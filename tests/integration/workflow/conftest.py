"""The workflow suite's fixtures: one sandbox per module with the stack deployed (sandbox.workflow)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from sandbox.workflow import PARAMETERS, TEMPLATE, TIME_SCALE, Workflow


@pytest.fixture(scope="module")
def workflow() -> Iterator[Workflow]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        workflow = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        workflow.subscribe_reports()
        yield workflow


@pytest.fixture
def wf(workflow: Workflow) -> Iterator[Workflow]:
    """The module's workflow with no faults left over and an empty call log."""
    workflow.sb.faults.clear()
    workflow.sb.calls.clear()
    workflow.reports()
    emulator = workflow.sb.emulator
    saved = emulator.mitigation_task_seconds
    yield workflow
    emulator.mitigation_task_seconds = saved
    workflow.sb.faults.clear()
    workflow.cancel_running_tasks()
