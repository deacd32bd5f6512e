"""Local AWS for the tests, `make demo` and `make replay`: moto, the Device Defender emulator, the
template deployer, in-process Lambda and the Step Functions runner.

    with Sandbox(time_scale=0.01) as sb:
        stack = sb.deploy("template.yaml", parameters={"RemediationMode": "Enforce"})
        result = sb.invoke("AuditEventsFunction", event)
        sb.settle()

Where things are: `lifecycle` (the Sandbox: open, deploy, invoke, wait, settle, close),
`environment` (the process-wide settings it takes over), `clock`, `executions` (waiting for Step
Functions executions), `eventbridge` (rule targets, input transformers), `execution_events`
(status-change events), `lambdas` (in-process Lambda), `stepfunctions` (the ASL interpreter's
fixes), `deployer` (template.yaml into moto), `device_defender` (the emulator), `faults`,
`patching` (every patch of moto and botocore), `iot_delete_checks` (DeleteCertificate's refusals), `iam` (each caller's
identity and IAM's evaluation of its requests), `alarm_actions` (CloudWatch alarms notifying SNS), `dynamodb_writes` (each DynamoDB write atomic), `subscriptions`
(queues subscribed to topics with the policy SNS needs), `workflow` (the workflow test harness).
"""

from sandbox.clock import SandboxClock
from sandbox.deployer import DeployError, Stack, UnsupportedResourceTypeError, supported_resource_types
from sandbox.environment import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from sandbox.eventbridge import target_input, transform_input
from sandbox.executions import ExecutionResult
from sandbox.faults import ApiCall, CallLog, Fault, FaultInjector
from sandbox.lambdas import FunctionSpec, Invocation, LambdaContext, LambdaFunctionError, sns_lambda_event
from sandbox.lifecycle import DEFAULT_STACK_NAME, Sandbox

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "ApiCall",
    "CallLog",
    "DeployError",
    "ExecutionResult",
    "Fault",
    "FaultInjector",
    "FunctionSpec",
    "Invocation",
    "LambdaContext",
    "LambdaFunctionError",
    "Sandbox",
    "SandboxClock",
    "Stack",
    "UnsupportedResourceTypeError",
    "sns_lambda_event",
    "supported_resource_types",
    "target_input",
    "transform_input",
]
