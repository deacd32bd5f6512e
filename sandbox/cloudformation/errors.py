"""The one error of template evaluation and deployment, so callers catch a single type."""


class DeployError(Exception):
    """The template cannot be evaluated or deployed into the sandbox."""
