"""The service's own errors. Their class names are part of the workflow's vocabulary."""

from typing import Literal


class RemediatorError(Exception):
    """Base class of every error the service raises on purpose."""


class RulesError(RemediatorError):
    """The rules table cannot be read or is invalid: nothing may be remediated."""


class RejectedMessageError(RemediatorError):
    """A message the service will never act on; it is quarantined, not retried."""

    def __init__(
        self, reason: str, detail: str = "", kind: Literal["audit", "finding", "unknown"] = "unknown"
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.kind = kind


class SettingsError(RemediatorError):
    """The function's environment is missing or malformed."""


class AwsCallError(RemediatorError):
    """An AWS call failed; the invocation fails so Lambda retries it, then the on-failure destination."""


class AnalysisReadError(RemediatorError):
    """Reading a group's findings, exclusions, devices or attempt history failed: nothing of it starts."""


class ResourceStateError(RemediatorError):
    """Reading or recording a resource's state before or after a task failed. Before a task, it means the
    task does not start; after it, the task's findings are reported as not verified."""


class ReconcileError(RemediatorError):
    """One audit could not be read or decided by the reconciliation sweep; nothing of it was recorded,
    so the next sweep tries it again."""


class ReconcileRequestError(RemediatorError):
    """A reconciliation request the sweep cannot honour (how many days back); nothing was read."""


class SecurityHubCallError(RemediatorError):
    """A Security Hub call failed; the sync reports it and remediation goes on."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class QuarantineExpiryRequestError(RemediatorError):
    """A quarantine expiry request the sweep cannot honour (how many missed days); nothing was read."""


class QuarantineTimerError(RemediatorError):
    """A quarantine timer could not be read, decided or recorded; it stays due for the next sweep."""
