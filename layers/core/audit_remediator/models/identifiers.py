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
ScheduledAuditName = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")
]
# Check names and reason codes are open strings (new checks appear); the bounds only keep junk out.
# Reason codes contain hyphens (CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361).
CheckName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
ReasonCode = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
# Step Functions execution names: 1-80 characters, letters, digits, '-' and '_'.
ExecutionName = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-zA-Z0-9_-]+$")]
