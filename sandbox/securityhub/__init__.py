"""Security Hub in the sandbox: Device Defender Audit's integration and the finding workflow API."""

from sandbox.securityhub.integration import disable_security_hub, enable_security_hub

__all__ = ["disable_security_hub", "enable_security_hub"]
