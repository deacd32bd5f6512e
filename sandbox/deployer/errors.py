"""The deployer's errors: every one a DeployError, for callers that catch only that."""

from sandbox.cloudformation.errors import DeployError


class UnsupportedResourceTypeError(DeployError):
    """The template uses a resource type the sandbox cannot create."""


class PhysicalNameTooLongError(DeployError):
    """A resource's name is longer than its service accepts (the create call's validation error)."""
