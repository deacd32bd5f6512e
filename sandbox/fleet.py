"""Seeds an IoT fleet into the sandbox: things, certificates, CAs, policies, groups and connections.

Each scenario is a healthy baseline plus the defects one or more audit checks must find, so tests
and the demo can assert exactly which resources an audit reports before remediation and which it
no longer reports after. The default, "workshop", is the fleet of AWS's Device Defender workshop:
two sensors sharing one certificate with an allow-everything policy, logging off, and one healthy
sensor.

Certificates come from moto's CreateKeysAndCertificate; those that need particular validity dates
or an issuer are made with `cryptography` and registered (RegisterCACertificate/RegisterCertificate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sandbox.device_defender import DeviceDefenderEmulator
from sandbox.device_defender.state import Connection

EVALUATED_CHECKS: Final = (
    "DEVICE_CERTIFICATE_SHARED_CHECK",
    "CONFLICTING_CLIENT_IDS_CHECK",
    "LOGGING_DISABLED_CHECK",
    "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
    "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
    "DEVICE_CERTIFICATE_EXPIRING_CHECK",
    "CA_CERTIFICATE_EXPIRING_CHECK",
)
SENSOR_GROUP: Final = "Sensors"
LOGGING_ROLE: Final = "arn:aws:iam::{account}:role/iot-logging"


@dataclass(frozen=True)
class SeededDevice:
    thing_name: str
    client_id: str
    certificate_id: str
    certificate_arn: str


@dataclass
class SeededFleet:
    """What was seeded; `expected` maps every evaluated check to the resources it must report."""

    scenario: str
    account_id: str
    region: str
    devices: list[SeededDevice] = field(default_factory=list)
    certificates: dict[str, str] = field(default_factory=dict)
    ca_certificates: dict[str, str] = field(default_factory=dict)
    policies: list[str] = field(default_factory=list)
    thing_groups: list[str] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    expected: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in EVALUATED_CHECKS})

    @property
    def things(self) -> list[str]:
        return list(dict.fromkeys(d.thing_name for d in self.devices))

    def device(self, thing_name: str) -> SeededDevice:
        return next(d for d in self.devices if d.thing_name == thing_name)


def resource_label(resource_identifier: dict[str, Any]) -> str:
    """The one identifying value of a finding's resource, as `SeededFleet.expected` records it."""
    for member in ("deviceCertificateId", "caCertificateId", "clientId", "account", "roleAliasArn"):
        if member in resource_identifier:
            return str(resource_identifier[member])
    if "policyVersionIdentifier" in resource_identifier:
        return str(resource_identifier["policyVersionIdentifier"]["policyName"])
    return json.dumps(resource_identifier, sort_keys=True)


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class _Authority:
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    certificate_id: str

    @property
    def pem(self) -> str:
        return _pem(self.certificate)


class Seeder:
    """Builds a fleet through the IoT client and the emulator, recording what it made in `fleet`."""

    def __init__(self, scenario: str, emulator: DeviceDefenderEmulator, iot: Any) -> None:
        self.emulator = emulator
        self.iot = iot
        self.now = emulator.clock.now()
        self.account_id = emulator.account_id
        self.region: str = iot.meta.region_name
        self.fleet = SeededFleet(scenario, self.account_id, self.region)
        self._group_created = False
        self._fleet_ca: _Authority | None = None

    def policy(self, name: str, statements: list[dict[str, Any]]) -> str:
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        self.iot.create_policy(policyName=name, policyDocument=document)
        self.fleet.policies.append(name)
        return name

    def narrow_policy(self, name: str = "SensorTelemetryPolicy") -> str:
        if name in self.fleet.policies:
            return name
        prefix = f"arn:aws:iot:{self.region}:{self.account_id}"
        return self.policy(
            name,
            [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{prefix}:client/${{iot:Connection.Thing.ThingName}}",
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": f"{prefix}:topic/sensors/${{iot:Connection.Thing.ThingName}}/telemetry",
                },
            ],
        )

    def certificate(self, label: str) -> tuple[str, str]:
        created = self.iot.create_keys_and_certificate(setAsActive=True)
        self.fleet.certificates[label] = created["certificateId"]
        return created["certificateId"], created["certificateArn"]

    def authority(self, name: str, *, valid_from: datetime, valid_until: datetime) -> _Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        registered = self.iot.register_ca_certificate(caCertificate=_pem(certificate), setAsActive=True)
        self.fleet.ca_certificates[name] = registered["certificateId"]
        return _Authority(name, key, certificate, registered["certificateId"])

    def issued_certificate(
        self, label: str, authority: _Authority, *, valid_from: datetime, valid_until: datetime
    ) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]))
            .issuer_name(authority.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_until)
            .sign(authority.key, hashes.SHA256())
        )
        registered = self.iot.register_certificate(
            certificatePem=_pem(certificate), caCertificatePem=authority.pem, setAsActive=True
        )
        self.fleet.certificates[label] = registered["certificateId"]
        return registered["certificateId"], registered["certificateArn"]

    def device(
        self,
        thing_name: str,
        *,
        certificate: tuple[str, str] | None = None,
        policy: str | None = None,
        client_id: str | None = None,
        connect: bool = True,
    ) -> SeededDevice:
        certificate_id, certificate_arn = certificate or self.certificate(thing_name)
        if thing_name not in self.fleet.things:
            self.iot.create_thing(thingName=thing_name)
            self._add_to_sensor_group(thing_name)
        self.iot.attach_thing_principal(thingName=thing_name, principal=certificate_arn)
        self.iot.attach_policy(policyName=policy or self.narrow_policy(), target=certificate_arn)
        device = SeededDevice(thing_name, client_id or thing_name, certificate_id, certificate_arn)
        self.fleet.devices.append(device)
        if connect:
            self.connect(device, hours_ago=24)
        return device

    def connect(self, device: SeededDevice, *, hours_ago: float, minutes: float = 50) -> None:
        start = self.now - timedelta(hours=hours_ago)
        connection = Connection(
            device.client_id,
            device.certificate_id,
            device.thing_name,
            start,
            start + timedelta(minutes=minutes),
        )
        self.emulator.record_connection(
            connection.client_id,
            connection.certificate_id,
            connection.thing_name,
            connection.connect_time,
            connection.disconnect_time,
            region=self.region,
        )
        self.fleet.connections.append(connection)

    def _add_to_sensor_group(self, thing_name: str) -> None:
        if not self._group_created:
            self.iot.create_thing_group(thingGroupName=SENSOR_GROUP)
            self.fleet.thing_groups.append(SENSOR_GROUP)
            self._group_created = True
        self.iot.add_thing_to_thing_group(thingGroupName=SENSOR_GROUP, thingName=thing_name)

    def logging(self, level: str) -> None:
        self.iot.set_v2_logging_options(
            roleArn=LOGGING_ROLE.format(account=self.account_id), defaultLogLevel=level, disableAllLogs=False
        )

    def expect(self, check: str, label: str) -> None:
        self.fleet.expected[check].add(label)

    def fleet_authority(self) -> _Authority:
        """The fleet's own issuing CA (registered once), for devices provisioned through it."""
        if self._fleet_ca is None:
            self._fleet_ca = self.authority(
                "HealthyFleetCA",
                valid_from=self.now - timedelta(days=400),
                valid_until=self.now + timedelta(days=3650),
            )
        return self._fleet_ca

    def issued_by_fleet_ca(self, label: str, *, valid_until: datetime | None = None) -> tuple[str, str]:
        return self.issued_certificate(
            label,
            self.fleet_authority(),
            valid_from=self.now - timedelta(days=1),
            valid_until=valid_until or self.now + timedelta(days=365),
        )

    def healthy(self, *, logging: bool = True) -> None:
        self.device("HealthySensor01")
        self.device("HealthySensor02")
        self.device("HealthySensor03", certificate=self.issued_by_fleet_ca("HealthySensor03"))
        if logging:
            self.logging("INFO")

    def shared_certificate(self, *, policy: str | None = None) -> None:
        shared = self.certificate("SharedCertificate")
        self.device("SensorDevice01", certificate=shared, policy=policy)
        self.device("SensorDevice02", certificate=shared, policy=policy)
        self.expect("DEVICE_CERTIFICATE_SHARED_CHECK", shared[0])

    def permissive_policy(self, name: str, statement: dict[str, Any]) -> str:
        self.policy(name, [statement])
        self.expect("IOT_POLICY_OVERLY_PERMISSIVE_CHECK", name)
        return name

    def logging_disabled(self, *, explicitly: bool) -> None:
        if explicitly:
            self.logging("DISABLED")
        self.expect("LOGGING_DISABLED_CHECK", self.account_id)

    def conflicting_client_ids(self, client_id: str = "sensor-gateway") -> None:
        # Two devices keep taking the same client ID from each other: alternating short sessions.
        first, second = (
            self.device(name, certificate=self.issued_by_fleet_ca(name), client_id=client_id, connect=False)
            for name in ("GatewaySensorA", "GatewaySensorB")
        )
        for hours_ago, device in ((30, first), (29, second), (28, first), (27, second)):
            self.connect(device, hours_ago=hours_ago, minutes=30)
        self.expect("CONFLICTING_CLIENT_IDS_CHECK", client_id)

    def revoked_device_certificate(self) -> None:
        device = self.device("RevokedCertSensor", certificate=self.issued_by_fleet_ca("RevokedCertSensor"))
        self.emulator.revoke_device_certificate(device.certificate_id, region=self.region)
        self.expect("REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK", device.certificate_id)

    def revoked_ca_certificate(self) -> None:
        authority = self.authority(
            "RevokedIntermediateCA",
            valid_from=self.now - timedelta(days=30),
            valid_until=self.now + timedelta(days=3650),
        )
        self.emulator.revoke_ca_certificate(authority.certificate_id, region=self.region)
        self.expect("REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK", authority.certificate_id)

    def expiring_device_certificates(self) -> None:
        for label, valid_until in (
            ("ExpiringSoonSensor", self.now + timedelta(days=10)),
            ("ExpiredSensor", self.now - timedelta(days=1)),
        ):
            certificate = self.issued_certificate(
                label,
                self.fleet_authority(),
                valid_from=self.now - timedelta(days=365),
                valid_until=valid_until,
            )
            self.device(label, certificate=certificate, connect=False)
            self.expect("DEVICE_CERTIFICATE_EXPIRING_CHECK", certificate[0])

    def expiring_ca_certificates(self) -> None:
        for name, valid_until in (
            ("ExpiringSoonCA", self.now + timedelta(days=10)),
            ("ExpiredCA", self.now - timedelta(days=1)),
        ):
            authority = self.authority(
                name, valid_from=self.now - timedelta(days=730), valid_until=valid_until
            )
            self.expect("CA_CERTIFICATE_EXPIRING_CHECK", authority.certificate_id)

    def allow_everything(self, name: str) -> str:
        return self.permissive_policy(name, {"Effect": "Allow", "Action": "iot:*", "Resource": "*"})


def _workshop_defects(s: Seeder) -> None:
    s.shared_certificate(policy=s.allow_everything("DDWorkshopAllowAllPolicy"))
    s.logging_disabled(explicitly=False)


def _workshop(s: Seeder) -> None:
    _workshop_defects(s)
    s.device("HealthySensor01")


def _all_checks(s: Seeder) -> None:
    s.healthy(logging=False)
    _workshop_defects(s)
    s.conflicting_client_ids()
    s.revoked_device_certificate()
    s.revoked_ca_certificate()
    s.expiring_device_certificates()
    s.expiring_ca_certificates()


def _with_healthy(defect: Callable[[Seeder], None], *, logging: bool = True) -> Callable[[Seeder], None]:
    def build(s: Seeder) -> None:
        s.healthy(logging=logging)
        defect(s)

    return build


def _publish_to_any_topic(s: Seeder) -> None:
    prefix = f"arn:aws:iot:{s.region}:{s.account_id}"
    policy = s.permissive_policy(
        "TelemetryAnyTopicPolicy",
        {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": f"{prefix}:topic/*"},
    )
    s.device("LooseSensor", policy=policy)


SCENARIOS: Final[dict[str, Callable[[Seeder], None]]] = {
    "workshop": _workshop,
    "healthy": _with_healthy(lambda _: None),
    "shared-certificate": _with_healthy(lambda s: s.shared_certificate()),
    "conflicting-client-ids": _with_healthy(lambda s: s.conflicting_client_ids()),
    "overly-permissive-policy": _with_healthy(_publish_to_any_topic),
    "logging-disabled": _with_healthy(lambda s: s.logging_disabled(explicitly=True), logging=False),
    "revoked-device-certificate": _with_healthy(lambda s: s.revoked_device_certificate()),
    "revoked-ca-certificate": _with_healthy(lambda s: s.revoked_ca_certificate()),
    "expiring-device-certificate": _with_healthy(lambda s: s.expiring_device_certificates()),
    "expiring-ca-certificate": _with_healthy(lambda s: s.expiring_ca_certificates()),
    "all-checks": _all_checks,
}


def seed_fleet(scenario: str = "workshop", *, emulator: DeviceDefenderEmulator, iot: Any) -> SeededFleet:
    """Seeds `scenario` through the boto3 IoT client `iot` (moto + the installed emulator)."""
    build = SCENARIOS.get(scenario)
    if build is None:
        raise ValueError(f"unknown fleet scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    seeder = Seeder(scenario, emulator, iot)
    build(seeder)
    return seeder.fleet
