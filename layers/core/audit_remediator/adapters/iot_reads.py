"""What the pre-start analysis reads from AWS IoT: findings, suppressions, protected things, the devices a
resource reaches and the fleet's size. Every list is paged to its end with botocore's paginators, at the
largest page each API allows; any failure is an AnalysisReadError (nothing of the group starts)."""

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AnalysisReadError
from audit_remediator.impact import AuditFindingView, resource_key

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class IotReader:
    def __init__(self, client: "IoTClient", certificate_arn_prefix: str) -> None:
        self._client = client
        self._cert_prefix = certificate_arn_prefix
        self._devices: dict[str, frozenset[str]] = {}

    def _pages(self, operation: str, key: str, *, missing_ok: bool = False, **params: Any) -> Iterator[Any]:
        """Every item of every page; with `missing_ok`, none when the resource does not exist (a
        resource deleted since the audit reaches no device, and a protected group that does not exist
        protects none)."""
        try:
            for page in self._client.get_paginator(operation).paginate(**params):  # type: ignore[call-overload]
                yield from page.get(key, [])
        except ClientError as error:
            if missing_ok and _code(error) == "ResourceNotFoundException":
                return
            raise AnalysisReadError(f"IoT {operation} failed: {error}") from error
        except BotoCoreError as error:
            raise AnalysisReadError(f"IoT {operation} failed: {error}") from error

    def findings(self, audit_task_id: str, check: str) -> Iterable[AuditFindingView]:
        # Findings suppressed when the audit ran are never mitigated by Device Defender itself.
        for finding in self._pages(
            "list_audit_findings",
            "findings",
            taskId=audit_task_id,
            checkName=check,
            listSuppressedFindings=False,
            PaginationConfig={"PageSize": 250},
        ):
            resource = finding.get("nonCompliantResource", {})
            yield AuditFindingView(
                finding_id=finding["findingId"],
                check=finding["checkName"],
                reason_code=finding.get("reasonForNonComplianceCode", ""),
                resource_type=resource.get("resourceType", ""),
                resource_identifier=resource.get("resourceIdentifier", {}),
            )

    def active_suppressions(self, now_epoch: int) -> frozenset[tuple[str, str]]:
        now = datetime.fromtimestamp(now_epoch, UTC)
        active = set()
        for suppression in self._pages(
            "list_audit_suppressions", "suppressions", PaginationConfig={"PageSize": 250}
        ):
            expires = suppression.get("expirationDate")
            if suppression.get("suppressIndefinitely") or expires is None or expires > now:
                active.add((suppression["checkName"], resource_key(suppression["resourceIdentifier"])))
        return frozenset(active)

    def things_in_groups(self, group_names: Iterable[str]) -> Mapping[str, str]:
        members: dict[str, str] = {}
        for group in group_names:
            things = self._pages(
                "list_things_in_thing_group",
                "things",
                missing_ok=True,
                thingGroupName=group,
                recursive=True,
                PaginationConfig={"PageSize": 250},
            )
            members |= dict.fromkeys(things, group)
        return members

    def _certificate_devices(self, certificate_arn: str) -> frozenset[str]:
        things = frozenset(
            self._pages(
                "list_principal_things",
                "things",
                missing_ok=True,
                principal=certificate_arn,
                PaginationConfig={"PageSize": 250},
            )
        )
        return things or frozenset({f"cert/{certificate_arn.rsplit('/', 1)[-1]}"})

    def _policy_devices(self, policy_name: str) -> frozenset[str]:
        devices: set[str] = set()
        for target in self._pages(
            "list_targets_for_policy",
            "targets",
            missing_ok=True,
            policyName=policy_name,
            PaginationConfig={"PageSize": 250},
        ):
            if ":cert/" in target:
                devices |= self._certificate_devices(target)
            elif ":thinggroup/" in target:
                devices |= set(
                    self._pages(
                        "list_things_in_thing_group",
                        "things",
                        missing_ok=True,
                        thingGroupName=target.rsplit("/", 1)[-1],
                        recursive=True,
                        PaginationConfig={"PageSize": 250},
                    )
                )
            else:
                # A Cognito identity (or another principal): one device, named by the principal.
                devices.add(f"principal/{target}")
        return frozenset(devices)

    def _ca_devices(self, ca_certificate_id: str) -> frozenset[str]:
        devices: set[str] = set()
        for certificate in self._pages(
            "list_certificates_by_ca",
            "certificates",
            missing_ok=True,
            caCertificateId=ca_certificate_id,
            PaginationConfig={"PageSize": 250},
        ):
            devices |= self._certificate_devices(certificate["certificateArn"])
        return frozenset(devices)

    def _related_devices(self, finding_id: str) -> frozenset[str]:
        """The intermediate-CA check names its device certificates only as related resources."""
        devices: set[str] = set()
        for related in self._pages(
            "list_related_resources_for_audit_finding",
            "relatedResources",
            missing_ok=True,
            findingId=finding_id,
        ):
            certificate = related.get("resourceIdentifier", {}).get("deviceCertificateId")
            if certificate:
                devices |= self._certificate_devices(self._cert_prefix + certificate)
        return frozenset(devices)

    def devices_of(self, finding: AuditFindingView) -> frozenset[str]:
        identifier = finding.resource_identifier
        key = (
            resource_key(identifier)
            + "|"
            + (finding.finding_id if "issuerCertificateIdentifier" in identifier else "")
        )
        if key not in self._devices:
            self._devices[key] = self._resolve(finding, identifier)
        return self._devices[key]

    def _resolve(self, finding: AuditFindingView, identifier: Mapping[str, Any]) -> frozenset[str]:
        if "deviceCertificateId" in identifier:
            return self._certificate_devices(self._cert_prefix + str(identifier["deviceCertificateId"]))
        if "caCertificateId" in identifier:
            return self._ca_devices(str(identifier["caCertificateId"]))
        if "policyVersionIdentifier" in identifier:
            return self._policy_devices(str(identifier["policyVersionIdentifier"]["policyName"]))
        if "issuerCertificateIdentifier" in identifier:
            return self._related_devices(finding.finding_id)
        # Account settings, client ids, Cognito pools, role aliases: no device is remediated.
        return frozenset()

    def fleet_size(self) -> int:
        # ListThings at 250 a page: ceil(fleet / 250) calls, made only when a % cap applies.
        return sum(1 for _ in self._pages("list_things", "things", PaginationConfig={"PageSize": 250}))
