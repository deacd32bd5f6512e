"""DeleteCertificate's refusals as AWS IoT states them, over moto's, which break once a policy is
attached to a thing group.

AWS IoT API Reference, DeleteCertificate: "A certificate cannot be deleted if it has a policy or IoT
thing attached to it or if its status is set to ACTIVE". moto 5.2.5 resolves every principal holding
a policy to compare certificate ids, and a thing group (the stack's quarantine group holds the
deny-all policy) has none: every DeleteCertificate after the stack's deploy raised AttributeError.
The replacement compares the principals' ARNs with the certificate's and keeps moto's errors.
"""

from __future__ import annotations

from typing import Any

from sandbox.patching import Patch, patch_attribute, restore_patches


def _validation_delete(backend: Any, cert: Any, force_delete: bool = False) -> None:
    from moto.iot.exceptions import CertificateStateException, DeleteConflictException

    if cert.status == "ACTIVE":
        raise CertificateStateException(
            "Certificate must be deactivated (not ACTIVE) before deletion.", cert.certificate_id
        )
    if any(principal == cert.arn for principal, _ in backend.principal_things):
        raise DeleteConflictException(f"Things must be detached before deletion (arn: {cert.arn})")
    if not force_delete and any(principal == cert.arn for principal, _ in backend.principal_policies):
        raise DeleteConflictException(
            f"Certificate policies must be detached before deletion (arn: {cert.arn})"
        )


class IoTDeleteChecks:
    def __init__(self) -> None:
        self._patches: list[Patch] = []

    def install(self) -> None:
        from moto.iot.models import IoTBackend

        patch_attribute(self._patches, IoTBackend, "_validation_delete", _validation_delete)

    def uninstall(self) -> None:
        restore_patches(self._patches)
