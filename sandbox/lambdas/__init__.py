"""In-process Lambda: the handler named in the template, run in this interpreter.

moto's Lambda runs functions in Docker, which these machines lack. The deployer registers every
function here (handler, code and layer directories, environment, timeout, async settings); moto's
invoke path and SNS->Lambda delivery are patched to call this runner.

- `registry`: the functions and how a name, ARN or logical id finds one;
- `isolation`: each function's own modules, environment variables and import path;
- `invocation`: one run of a handler (`Invoker.run`), its context and error document;
- `async_queue`: Event invocations, retries, destinations; `destinations`: the records they get;
- `sns`: SNS deliveries to subscribed functions; `runner`: all of it behind `LambdaRunner`.
"""

from sandbox.lambdas.destinations import deliver_to_destination
from sandbox.lambdas.invocation import (
    Invocation,
    LambdaContext,
    LambdaFunctionError,
    LambdaTimeoutError,
    error_payload,
)
from sandbox.lambdas.isolation import ModuleNamespace
from sandbox.lambdas.registry import FunctionSpec, UnknownFunctionError
from sandbox.lambdas.runner import LambdaRunner
from sandbox.lambdas.sns import sns_lambda_event

__all__ = [
    "FunctionSpec",
    "Invocation",
    "LambdaContext",
    "LambdaFunctionError",
    "LambdaRunner",
    "LambdaTimeoutError",
    "ModuleNamespace",
    "UnknownFunctionError",
    "deliver_to_destination",
    "error_payload",
    "sns_lambda_event",
]
