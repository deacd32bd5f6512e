"""How a function's code is imported: its own modules, environment and import path while it runs.

Lambda gives each function its own interpreter; the sandbox runs every function in this one, so it
swaps each function's modules, environment variables and `sys.path` in for the length of a call.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sandbox.lambdas.registry import FunctionSpec

Handler = Callable[[Any, Any], Any]


class ModuleNamespace:
    """The modules one function has imported from its code and layer directories.

    Lambda gives each function its own interpreter, so module-level caches (settings read from the
    environment, clients) start empty in every sandbox. The function's copies are swapped into
    sys.modules only while it runs; the rest of the process keeps its own.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [str(root.resolve()) + os.sep for root in roots]
        self.modules: dict[str, ModuleType] = {}
        self._owned: dict[int, bool] = {}

    def owns(self, module: ModuleType | None) -> bool:
        if module is None:
            return False
        key = id(module)
        if key not in self._owned:
            location = getattr(module, "__file__", None) or ""
            self._owned[key] = bool(location) and os.path.abspath(location).startswith(tuple(self.roots))
        return self._owned[key]

    @contextmanager
    def active(self) -> Iterator[None]:
        others = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
        for name in others:
            del sys.modules[name]
        sys.modules.update(self.modules)
        try:
            yield
        finally:
            self.modules = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
            for name in self.modules:
                del sys.modules[name]
            sys.modules.update(others)


def function_namespace(spec: FunctionSpec) -> ModuleNamespace:
    return ModuleNamespace([spec.code_dir, *spec.layer_dirs])


def load_handler(spec: FunctionSpec, module_name: str) -> Handler:
    """Imports the module of the function's Handler (`<module>.<function>`) under `module_name`."""
    module_path, _, function_name = spec.handler.rpartition(".")
    if not module_path or not function_name:
        raise ValueError(f"{spec.logical_id}: Handler {spec.handler!r} is not <module>.<function>")
    source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not source.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler module {source} does not exist")
    unique = f"{module_name}_{module_path.replace('.', '_')}"
    module_spec = importlib.util.spec_from_file_location(unique, source)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {source}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    # Registered so that dataclasses and pydantic can find the module; lives in the namespace.
    sys.modules[unique] = module
    module_spec.loader.exec_module(module)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f"{spec.logical_id}: {source} has no callable {function_name!r}")
    return handler  # type: ignore[no-any-return]


@contextmanager
def function_environment(spec: FunctionSpec, *, region: str) -> Iterator[None]:
    """The Lambda runtime's environment variables, the function's own, and its code and layers on
    the import path, for the length of the block."""
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        # What `sam local invoke` sets: Powertools' Tracer then stays off instead of looking for X-Ray.
        "AWS_SAM_LOCAL": "true",
        **spec.environment,
    }
    saved = {name: os.environ.get(name) for name in variables}
    paths = [str(spec.code_dir)]
    for layer_dir in spec.layer_dirs:
        paths.extend(str(d) for d in (layer_dir / "python", layer_dir) if d.is_dir())
    inserted = [p for p in paths if p not in sys.path]
    os.environ.update(variables)
    sys.path[:0] = inserted
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for path in inserted:
            if path in sys.path:
                sys.path.remove(path)
