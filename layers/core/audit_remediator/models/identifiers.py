"""Identifier types carrying the AWS IoT API's own patterns and lengths (botocore's iot service model)."""

from typing import Annotated

from pydantic import StringConstraints

AccountId = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
AuditTaskId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-zA-Z0-9\-]+$")]
FindingId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")]
MitigationTaskId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")
]
ClientRequestToken = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-_]+$")
]
MitigationActionName = Annotated[str, StringConstraints(max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")]
# Check names and reason codes are open strings in the API (new checks appear): only bounded here, so
# an odd name is "no rule" for its own check instead of a reason to reject the whole audit.
CheckName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
ReasonCode = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
# Certificate ids are 64 characters including an optional 0x (botocore's CertificateId).
CertificateId = Annotated[
    str, StringConstraints(min_length=64, max_length=64, pattern=r"^(0x)?[a-fA-F0-9]+$")
]
# Step Functions execution names: 1-80 characters, letters, digits, '-' and '_'.
ExecutionName = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-zA-Z0-9_-]+$")]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of a state machine (StartExecution's own shape)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name
