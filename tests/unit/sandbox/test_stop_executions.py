"""Closing the sandbox stops the executions still running, including one moto started a moment ago whose
worker has not built its environment yet (moto's Execution.stop reaches the worker's env)."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.executions import stop_executions


class Status(enum.Enum):
    RUNNING = "RUNNING"
    ABORTED = "ABORTED"


@dataclass
class Environment:
    execution: Execution

    def set_stop(self, **_: Any) -> None:
        self.execution.exec_status = Status.ABORTED


@dataclass
class Worker:
    env: Environment | None = None

    def stop(self, **kwargs: Any) -> None:
        self.env.set_stop(**kwargs)  # type: ignore[union-attr]


@dataclass
class Execution:
    """moto's parser Execution as stop_executions sees it: a status, a worker, stop() through the worker."""

    exec_arn: str = "arn:aws:states:us-east-1:123456789012:execution:sm:e1"
    exec_status: Status | None = Status.RUNNING
    exec_worker: Worker = field(default_factory=Worker)

    def stop(self, **kwargs: Any) -> None:
        self.exec_worker.stop(**kwargs)


def test_an_execution_whose_worker_is_not_ready_yet_is_stopped_once_it_is() -> None:
    execution = Execution()
    ready = threading.Timer(0.05, lambda: setattr(execution.exec_worker, "env", Environment(execution)))
    ready.start()
    try:
        stop_executions([execution])
    finally:
        ready.cancel()
    assert execution.exec_status is Status.ABORTED


def test_an_ended_execution_is_left_alone() -> None:
    execution = Execution(exec_status=Status.ABORTED)
    stop_executions([execution])
    assert execution.exec_status is Status.ABORTED
