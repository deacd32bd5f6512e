"""Where moto 5.2.5's interpreter runs a workflow differently from Step Functions, or slowly:
Assign's timing, executions started without a name, and re-parsing the definition every start."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

_PENDING_ASSIGNMENTS: Final = "_sandbox_pending_assignments"
_PARSE_TREES: dict[str, Any] = {}
_PARSE_TREE_LIMIT: Final = 32

Patcher = Callable[[Any, str, Any], None]


def install_assign_after_output(patch: Patcher) -> None:
    """Step Functions evaluates a state's Assign and Output side by side: both see the variables as
    they were when the state was entered, and the assignments take effect when it exits. moto sets
    the variables first, so an Output (or a later Assign binding) saw the new values.
    Source: https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html"""
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    original_assign = AssignDecl.__dict__["_eval_body"]
    original_state = CommonStateField.__dict__["_eval_body"]
    original_exit = CommonStateField.__dict__["_get_state_exited_event_details"]

    def assign(declaration: Any, env: Any) -> None:
        pending: dict[str, Any] | None = getattr(env, _PENDING_ASSIGNMENTS, None)
        if pending is None:
            original_assign(declaration, env)
            return
        values: dict[str, Any] = {}
        for binding in declaration.declaration_bindings:
            binding.eval(env=env)
            values.update(env.stack.pop())
        pending.update(values)

    def state_body(state: Any, env: Any) -> None:
        outer = getattr(env, _PENDING_ASSIGNMENTS, None)
        setattr(env, _PENDING_ASSIGNMENTS, {})
        try:
            original_state(state, env)
        finally:
            _apply_pending_assignments(env)
            setattr(env, _PENDING_ASSIGNMENTS, outer)

    def exited(state: Any, env: Any) -> Any:
        _apply_pending_assignments(env)
        return original_exit(state, env)

    patch(AssignDecl, "_eval_body", assign)
    patch(CommonStateField, "_eval_body", state_body)
    patch(CommonStateField, "_get_state_exited_event_details", exited)


def _apply_pending_assignments(env: Any) -> None:
    pending: dict[str, Any] | None = getattr(env, _PENDING_ASSIGNMENTS, None)
    if not pending:
        return
    values = dict(pending)
    pending.clear()
    for identifier, value in values.items():
        env.variable_store.set(variable_identifier=identifier, variable_value=value)


def install_parse_cache(patch: Patcher) -> None:
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = asl_parser.AmazonStateLanguageParser.__dict__["parse"].__func__

    # moto parses the definition at CreateStateMachine and again at every StartExecution; the ANTLR
    # pass is most of the cost and its tree is only read, so it is kept. The components the
    # Preprocessor builds hold execution state and are built afresh every time.
    def parse(definition: str) -> tuple[Any, Any]:
        tree = _PARSE_TREES.get(definition)
        if tree is None:
            program, tree = original(definition)
            if len(_PARSE_TREES) >= _PARSE_TREE_LIMIT:
                _PARSE_TREES.pop(next(iter(_PARSE_TREES)))
            _PARSE_TREES[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    patch(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))


def install_execution_names(patch: Patcher) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.__dict__["start_execution"]

    # StartExecution without a name gets a UUID; moto's interpreter leaves it None.
    def start_execution(
        backend: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    patch(StepFunctionsParserBackend, "start_execution", start_execution)
