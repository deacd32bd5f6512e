"""A state machine's tasks call AWS as a session of the state machine's role (Step Functions
developer guide, "How Step Functions works with IAM"), whichever thread (a Map iteration's) runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.iam.principals import acting_as, role_session


def task_caller(env: Any) -> Any:
    details = env.aws_execution_details
    execution = env.states.context_object.context_object_data.get("Execution", {})
    return role_session(str(details.role_arn), str(execution.get("Name") or "execution"))


def install_task_roles(patch: Callable[[Any, str, Any], None]) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    original = StateTaskService.__dict__["_eval_execution"]

    def _eval_execution(task: Any, env: Any) -> None:
        with acting_as(task_caller(env)):
            original(task, env)

    patch(StateTaskService, "_eval_execution", _eval_execution)
