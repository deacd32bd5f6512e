"""AWS::IoT::AccountAuditConfiguration's audit check properties, for the sandbox and template tests.

Only tools and tests read a template's audit configuration; the deployed code never does.
"""

from typing import Final

# AWS::IoT::AccountAuditConfiguration's AuditCheckConfigurations property for each check (the
# CloudFormation reference; its capitalisation is irregular, hence a table).
CLOUDFORMATION_CHECK_PROPERTIES: Final[dict[str, str]] = {
    "AuthenticatedCognitoRoleOverlyPermissiveCheck": "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
    "CaCertificateExpiringCheck": "CA_CERTIFICATE_EXPIRING_CHECK",
    "CaCertificateKeyQualityCheck": "CA_CERTIFICATE_KEY_QUALITY_CHECK",
    "ConflictingClientIdsCheck": "CONFLICTING_CLIENT_IDS_CHECK",
    "DeviceCertificateAgeCheck": "DEVICE_CERTIFICATE_AGE_CHECK",
    "DeviceCertificateExpiringCheck": "DEVICE_CERTIFICATE_EXPIRING_CHECK",
    "DeviceCertificateKeyQualityCheck": "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
    "DeviceCertificateSharedCheck": "DEVICE_CERTIFICATE_SHARED_CHECK",
    "IntermediateCaRevokedForActiveDeviceCertificatesCheck": (
        "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK"
    ),
    "IotPolicyOverlyPermissiveCheck": "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
    "IoTPolicyPotentialMisConfigurationCheck": "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
    "IotRoleAliasAllowsAccessToUnusedServicesCheck": "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK",
    "IotRoleAliasOverlyPermissiveCheck": "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK",
    "LoggingDisabledCheck": "LOGGING_DISABLED_CHECK",
    "RevokedCaCertificateStillActiveCheck": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
    "RevokedDeviceCertificateStillActiveCheck": "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
    "UnauthenticatedCognitoRoleOverlyPermissiveCheck": "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK",
}
