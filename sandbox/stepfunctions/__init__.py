"""What real Step Functions does and moto 5.2.5's interpreter does not, one concern per module:

- `expressions`: JSONata through jsonata-python (`$uuid`, `$hash`; `$now`, `$millis` on the sandbox clock);
- `aws_sdk`: PascalCase parameters and responses of `aws-sdk:*` tasks, `<Service>.<Code>` errors;
- `timing`: Wait states and retry intervals on the sandbox clock;
- `callbacks`: a `.waitForTaskToken` task's TimeoutSeconds and HeartbeatSeconds on the sandbox clock;
- `interpreter`: Assign's timing, unnamed executions, the parse cache;
- `runtime`: installs all of them while a sandbox is open (`patching` puts moto back afterwards).
"""

from sandbox.patching import Patch, patch_attribute
from sandbox.stepfunctions.aws_sdk import (
    AwsSdkParameterError,
    operation_model,
    pascal_case,
    sfn_error_name,
    sfn_service_name,
    to_api_members,
    to_sfn_members,
)
from sandbox.stepfunctions.expressions import (
    JsonataEvaluationError,
    encode_variable_declarations,
    evaluate_jsonata,
)
from sandbox.stepfunctions.runtime import StepFunctionsRuntime

__all__ = [
    "AwsSdkParameterError",
    "JsonataEvaluationError",
    "Patch",
    "StepFunctionsRuntime",
    "encode_variable_declarations",
    "evaluate_jsonata",
    "operation_model",
    "pascal_case",
    "patch_attribute",
    "sfn_error_name",
    "sfn_service_name",
    "to_api_members",
    "to_sfn_members",
]
