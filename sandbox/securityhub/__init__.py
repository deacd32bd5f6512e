"""Security Hub in the sandbox: Device Defender Audit's integration and the finding workflow API."""
