"""Contract tests for the Device Defender emulator, driven by botocore's IoT service model.

For every emulated operation a valid request succeeds and its response fits the output shape; from
each valid request, every constraint the model declares on the members present (maximum length,
maximum item count, pattern, enum, required) yields an invalid request that is rejected as AWS
rejects it: by botocore itself where botocore checks (required members) and otherwise by the
service with InvalidRequestException / HTTP 400. Requests are also sent through a client with
botocore's validation switched off, to show the emulator enforces the whole model on its own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.stub import Stubber
from moto import mock_aws

from sandbox.device_defender import OPERATIONS, DeviceDefenderEmulator, ManualClock
from sandbox.device_defender.validation import ModelValidator, matches_pattern
from tests.conftest import ACCOUNT_ID, REGION

SERVICE_MODEL = botocore.session.get_session().get_service_model("iot")
VALIDATOR = ModelValidator(SERVICE_MODEL)
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/device-defender"
NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
)
LOGGING = "LOGGING_DISABLED_CHECK"
POLICY_CHECK = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
SUPPRESSED_CA = {"caCertificateId": "ab" * 32}


@dataclass
class World:
    """Identifiers of the resources the valid requests refer to."""

    topic_arn: str = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:audit-notifications"
    audit_task_id: str = "0123456789abcdef0123456789abcdef"
    running_audit_id: str = "fedcba9876543210fedcba9876543210"
    policy_finding_id: str = "3f2b6c1e-8d4a-4f7e-9a51-0c2d7e8b9f10"
    logging_finding_id: str = "7a1c2e3d-4b5f-4a6b-8c7d-9e0f1a2b3c4d"
    running_task_id: str = "running-task"


PLACEHOLDER = World()
Request = Callable[[World], dict[str, Any]]

VALID: dict[str, dict[str, Request]] = {
    "DescribeAccountAuditConfiguration": {"all": lambda w: {}},
    "UpdateAccountAuditConfiguration": {
        "all": lambda w: {
            "roleArn": ROLE,
            "auditNotificationTargetConfigurations": {
                "SNS": {"targetArn": w.topic_arn, "roleArn": ROLE, "enabled": True}
            },
            "auditCheckConfigurations": {
                EXPIRING: {"enabled": True, "configuration": {"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "60"}}
            },
        }
    },
    "DeleteAccountAuditConfiguration": {"all": lambda w: {"deleteScheduledAudits": True}},
    "CreateScheduledAudit": {
        "weekly": lambda w: {
            "scheduledAuditName": "WeeklyAudit",
            "frequency": "WEEKLY",
            "dayOfWeek": "MON",
            "targetCheckNames": [LOGGING],
            "tags": [{"Key": "team", "Value": "iot"}],
        }
    },
    "DescribeScheduledAudit": {"all": lambda w: {"scheduledAuditName": "DailyAudit"}},
    "ListScheduledAudits": {"all": lambda w: {"maxResults": 10}},
    "UpdateScheduledAudit": {
        "monthly": lambda w: {
            "scheduledAuditName": "DailyAudit",
            "frequency": "MONTHLY",
            "dayOfMonth": "15",
            "targetCheckNames": [LOGGING, POLICY_CHECK],
        }
    },
    "DeleteScheduledAudit": {"all": lambda w: {"scheduledAuditName": "DailyAudit"}},
    "StartOnDemandAuditTask": {"all": lambda w: {"targetCheckNames": [LOGGING]}},
    "DescribeAuditTask": {"all": lambda w: {"taskId": w.audit_task_id}},
    "ListAuditTasks": {
        "all": lambda w: {
            "startTime": NOW - timedelta(hours=1),
            "endTime": NOW + timedelta(hours=1),
            "taskType": "ON_DEMAND_AUDIT_TASK",
            "taskStatus": "COMPLETED",
            "maxResults": 10,
        }
    },
    "CancelAuditTask": {"all": lambda w: {"taskId": w.running_audit_id}},
    "ListAuditFindings": {
        "by-task": lambda w: {
            "taskId": w.audit_task_id,
            "checkName": POLICY_CHECK,
            "resourceIdentifier": {
                "policyVersionIdentifier": {"policyName": "AllowAll", "policyVersionId": "1"}
            },
            "listSuppressedFindings": False,
            "maxResults": 10,
        },
        "by-time": lambda w: {
            "startTime": NOW - timedelta(hours=1),
            "endTime": NOW + timedelta(hours=1),
            "resourceIdentifier": {"account": ACCOUNT_ID},
        },
    },
    "DescribeAuditFinding": {"all": lambda w: {"findingId": w.policy_finding_id}},
    "ListRelatedResourcesForAuditFinding": {
        "all": lambda w: {"findingId": w.policy_finding_id, "maxResults": 5}
    },
    "CreateMitigationAction": {
        "all": lambda w: {
            "actionName": "QuarantineThings",
            "roleArn": ROLE,
            "actionParams": {
                "addThingsToThingGroupParams": {
                    "thingGroupNames": ["Quarantine"],
                    "overrideDynamicGroups": False,
                }
            },
            "tags": [{"Key": "purpose", "Value": "quarantine"}],
        }
    },
    "DescribeMitigationAction": {"all": lambda w: {"actionName": "BlankPolicy"}},
    "ListMitigationActions": {
        "all": lambda w: {"actionType": "REPLACE_DEFAULT_POLICY_VERSION", "maxResults": 10}
    },
    "UpdateMitigationAction": {
        "all": lambda w: {
            "actionName": "EnableErrorLogging",
            "roleArn": ROLE,
            "actionParams": {"enableIoTLoggingParams": {"roleArnForLogging": ROLE, "logLevel": "WARN"}},
        }
    },
    "DeleteMitigationAction": {"all": lambda w: {"actionName": "PublishFindings"}},
    "StartAuditMitigationActionsTask": {
        "by-audit": lambda w: {
            "taskId": "remediate-audit_1",
            "target": {
                "auditTaskId": w.audit_task_id,
                "auditCheckToReasonCodeFilter": {
                    POLICY_CHECK: ["ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"]
                },
            },
            "auditCheckToActionsMapping": {POLICY_CHECK: ["BlankPolicy", "PublishFindings"]},
            "clientRequestToken": "token-audit-1",
        },
        "by-findings": lambda w: {
            "taskId": "remediate-findings-1",
            "target": {"findingIds": [w.logging_finding_id]},
            "auditCheckToActionsMapping": {LOGGING: ["EnableErrorLogging"]},
            "clientRequestToken": "token-findings-1",
        },
    },
    "DescribeAuditMitigationActionsTask": {"all": lambda w: {"taskId": w.running_task_id}},
    "ListAuditMitigationActionsTasks": {
        "all": lambda w: {
            "auditTaskId": w.audit_task_id,
            "findingId": w.policy_finding_id,
            "taskStatus": "IN_PROGRESS",
            "startTime": NOW - timedelta(hours=1),
            "endTime": NOW + timedelta(hours=1),
            "maxResults": 10,
        }
    },
    "ListAuditMitigationActionsExecutions": {
        "all": lambda w: {
            "taskId": w.running_task_id,
            "findingId": w.policy_finding_id,
            "actionStatus": "PENDING",
            "maxResults": 10,
        }
    },
    "CancelAuditMitigationActionsTask": {"all": lambda w: {"taskId": w.running_task_id}},
    "CreateAuditSuppression": {
        "all": lambda w: {
            "checkName": EXPIRING,
            "resourceIdentifier": {"deviceCertificateId": "0123456789abcdef" * 4},
            "expirationDate": NOW + timedelta(days=7),
            "suppressIndefinitely": False,
            "description": "Replacement certificate ordered",
            "clientRequestToken": "suppress-1",
        }
    },
    "DescribeAuditSuppression": {
        "all": lambda w: {
            "checkName": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            "resourceIdentifier": SUPPRESSED_CA,
        }
    },
    "UpdateAuditSuppression": {
        "all": lambda w: {
            "checkName": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            "resourceIdentifier": SUPPRESSED_CA,
            "suppressIndefinitely": True,
            "description": "CA kept for legacy devices",
        }
    },
    "DeleteAuditSuppression": {
        "all": lambda w: {
            "checkName": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            "resourceIdentifier": SUPPRESSED_CA,
        }
    },
    "ListAuditSuppressions": {
        "all": lambda w: {
            "checkName": "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            "resourceIdentifier": {
                "issuerCertificateIdentifier": {
                    "issuerCertificateSubject": "CN=Example Issuing CA",
                    "issuerId": "0a1b2c",
                    "issuerCertificateSerialNumber": "0a:1b:2c",
                }
            },
            "ascendingOrder": False,
            "maxResults": 10,
        }
    },
    "GetV2LoggingOptions": {"all": lambda w: {}},
    "SetV2LoggingOptions": {
        "all": lambda w: {
            "roleArn": ROLE,
            "defaultLogLevel": "INFO",
            "disableAllLogs": False,
            "eventConfigurations": [
                {"eventType": "Connect", "logLevel": "INFO", "logDestination": "iot/logs"}
            ],
        }
    },
}


def test_every_emulated_operation_has_a_valid_request() -> None:
    assert set(VALID) == set(OPERATIONS)


@dataclass
class Env:
    emulator: DeviceDefenderEmulator
    iot: Any
    raw: Any
    world: World


@dataclass
class Clients:
    iot: Any
    raw: Any
    sns: Any


@pytest.fixture(scope="module")
def clients() -> Clients:
    """IoT has hundreds of operations, so clients are slow to build: build them once per module."""
    with mock_aws():
        return Clients(
            iot=boto3.client("iot", region_name=REGION),
            raw=boto3.client("iot", region_name=REGION, config=Config(parameter_validation=False)),
            sns=boto3.client("sns", region_name=REGION),
        )


@pytest.fixture
def env(clients: Clients) -> Iterator[Env]:
    with (
        mock_aws(),
        DeviceDefenderEmulator(clock=ManualClock(NOW), audit_seconds=0, mitigation_task_seconds=60) as dd,
    ):
        iot = clients.iot
        world = World()
        clients.sns.create_topic(Name="audit-notifications")
        iot.create_policy(policyName="AllowAll", policyDocument=ALLOW_ALL)
        iot.update_account_audit_configuration(
            roleArn=ROLE,
            auditCheckConfigurations={c: {"enabled": True} for c in (LOGGING, POLICY_CHECK, EXPIRING)},
            auditNotificationTargetConfigurations={
                "SNS": {"targetArn": world.topic_arn, "roleArn": ROLE, "enabled": True}
            },
        )
        iot.create_scheduled_audit(
            scheduledAuditName="DailyAudit", frequency="DAILY", targetCheckNames=[LOGGING]
        )
        world.audit_task_id = iot.start_on_demand_audit_task(targetCheckNames=[LOGGING, POLICY_CHECK])[
            "taskId"
        ]
        findings = {
            f["checkName"]: f["findingId"]
            for f in iot.list_audit_findings(taskId=world.audit_task_id)["findings"]
        }
        world.policy_finding_id, world.logging_finding_id = findings[POLICY_CHECK], findings[LOGGING]
        for name, params in (
            ("BlankPolicy", {"replaceDefaultPolicyVersionParams": {"templateName": "BLANK_POLICY"}}),
            ("PublishFindings", {"publishFindingToSnsParams": {"topicArn": world.topic_arn}}),
            (
                "EnableErrorLogging",
                {"enableIoTLoggingParams": {"roleArnForLogging": ROLE, "logLevel": "ERROR"}},
            ),
        ):
            iot.create_mitigation_action(actionName=name, roleArn=ROLE, actionParams=params)
        iot.start_audit_mitigation_actions_task(
            taskId=world.running_task_id,
            target={"auditTaskId": world.audit_task_id},
            auditCheckToActionsMapping={POLICY_CHECK: ["BlankPolicy"]},
        )
        iot.create_audit_suppression(
            checkName="REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            resourceIdentifier=SUPPRESSED_CA,
            suppressIndefinitely=True,
        )
        iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="ERROR")
        dd.audit_seconds = 3600
        world.running_audit_id = iot.start_on_demand_audit_task(targetCheckNames=[LOGGING])["taskId"]
        yield Env(dd, iot, clients.raw, world)


def _call(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = getattr(client, botocore.xform_name(operation))(**params)
    return response


VALID_CASES = [(op, variant) for op, variants in sorted(VALID.items()) for variant in variants]


@pytest.mark.parametrize(("operation", "variant"), VALID_CASES, ids=[f"{o}-{v}" for o, v in VALID_CASES])
def test_valid_request_succeeds_with_a_response_of_the_output_shape(
    env: Env, operation: str, variant: str
) -> None:
    params = VALID[operation][variant](env.world)
    assert VALIDATOR.request_violations(operation, params) == []

    response = _call(env.iot, operation, params)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert VALIDATOR.response_violations(operation, body) == []


PATTERN_BREAKERS = ("!", ":", " ", "\t", "g", "é", "/", "_")
PHRASES = {
    "too-long": "Member must have length less than or equal to",
    "too-many": "Member must have length less than or equal to",
    "too-large": "Member must have value less than or equal to",
    "bad-pattern": "Member must satisfy regular expression pattern",
    "bad-enum": "Member must satisfy enum value set",
    "missing": "Member must not be null",
}


@dataclass(frozen=True)
class Mutation:
    operation: str
    variant: str
    path: tuple[Any, ...]
    kind: str
    value: Any = None
    in_uri: bool = False

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.variant}-{'.'.join(str(p) for p in self.path)}-{self.kind}"


def _pattern_breaker(shape: Shape) -> str | None:
    low = shape.metadata.get("min", 1) or 1
    high = shape.metadata.get("max", low)
    for character in PATTERN_BREAKERS:
        candidate = character * max(low, 1)
        if len(candidate) <= high and not matches_pattern(shape.metadata["pattern"], candidate):
            return candidate
    return None


def _mutations(
    operation: str, variant: str, shape: Shape, value: Any, path: tuple[Any, ...]
) -> Iterator[Mutation]:
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        for name in shape.required_members:
            if shape.members[name].metadata.get("idempotencyToken"):
                continue  # botocore fills in a missing idempotency token, as it does against AWS
            in_uri = shape.members[name].serialization.get("location") == "uri"
            yield Mutation(operation, variant, (*path, name), "missing", in_uri=in_uri)
        for name, member in shape.members.items():
            if name in value:
                yield from _mutations(operation, variant, member, value[name], (*path, name))
    elif isinstance(shape, ListShape):
        if "max" in meta:
            yield Mutation(operation, variant, path, "too-many", [value[0]] * (meta["max"] + 1))
        for index, item in enumerate(value):
            yield from _mutations(operation, variant, shape.member, item, (*path, index))
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            if getattr(shape.key, "enum", None):
                yield Mutation(operation, variant, (*path, ("key", key)), "bad-enum", "NOT_A_VALID_VALUE")
            yield from _mutations(operation, variant, shape.value, item, (*path, key))
    elif shape.type_name == "string":
        if getattr(shape, "enum", None):
            yield Mutation(operation, variant, path, "bad-enum", "NOT_A_VALID_VALUE")
        if "max" in meta:
            yield Mutation(
                operation, variant, path, "too-long", (value * (meta["max"] + 1))[: meta["max"] + 1]
            )
        if "pattern" in meta:
            breaker = _pattern_breaker(shape)
            assert breaker is not None, f"no pattern breaker for {operation} {path}"
            yield Mutation(operation, variant, path, "bad-pattern", breaker)
    elif shape.type_name in ("integer", "long") and "max" in meta:
        yield Mutation(operation, variant, path, "too-large", meta["max"] + 1)


def _apply(params: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    mutated = copy.deepcopy(params)
    parent: Any = mutated
    for step in mutation.path[:-1]:
        parent = parent[step]
    last = mutation.path[-1]
    if mutation.kind == "missing":
        parent.pop(last, None)
    elif isinstance(last, tuple):
        parent[mutation.value] = parent.pop(last[1])
    else:
        parent[last] = mutation.value
    return mutated


def _input_shape(operation: str) -> StructureShape:
    shape = SERVICE_MODEL.operation_model(operation).input_shape
    assert shape is not None
    return shape


MUTATIONS = [
    mutation
    for operation, variants in sorted(VALID.items())
    for variant, build in variants.items()
    for mutation in _mutations(operation, variant, _input_shape(operation), build(PLACEHOLDER), ())
]


def test_the_generated_cases_cover_every_kind_of_constraint() -> None:
    assert {m.kind for m in MUTATIONS} == set(PHRASES)
    assert {m.operation for m in MUTATIONS} >= OPERATIONS - {
        "DescribeAccountAuditConfiguration",
        "DeleteAccountAuditConfiguration",
        "GetV2LoggingOptions",
    }


@pytest.fixture(scope="module")
def quiet_env(clients: Clients) -> Iterator[Env]:
    """One emulator for all rejected requests: validation rejects them before any state is read."""
    with DeviceDefenderEmulator(clock=ManualClock(NOW)) as dd:
        yield Env(dd, clients.iot, clients.raw, PLACEHOLDER)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_invalid_request_is_rejected_as_aws_rejects_it(quiet_env: Env, mutation: Mutation) -> None:
    params = _apply(VALID[mutation.operation][mutation.variant](PLACEHOLDER), mutation)

    if mutation.kind == "missing":
        with pytest.raises(ParamValidationError, match="Missing required parameter"):
            _call(quiet_env.iot, mutation.operation, params)
    else:
        _assert_invalid_request(quiet_env.iot, mutation.operation, params, PHRASES[mutation.kind])
    if not mutation.in_uri:
        _assert_invalid_request(quiet_env.raw, mutation.operation, params, PHRASES[mutation.kind])


def _assert_invalid_request(client: Any, operation: str, params: dict[str, Any], phrase: str) -> ClientError:
    with pytest.raises(ClientError) as raised:
        _call(client, operation, params)
    error = raised.value.response
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert phrase in error["Error"]["Message"]
    return raised.value


def _start_task(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "taskId": "remediate-1",
        "target": {"findingIds": ["finding-1"]},
        "auditCheckToActionsMapping": {LOGGING: ["EnableErrorLogging"]},
        "clientRequestToken": "token-1",
    }
    params.update(overrides)
    return params


@pytest.mark.parametrize("client", ["iot", "raw"])
@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"target": {"findingIds": [f"finding-{i}" for i in range(26)]}}, "length less than or equal to 25"),
        ({"taskId": "remediate:1"}, "regular expression pattern: [a-zA-Z0-9_-]+"),
        ({"clientRequestToken": "t" * 65}, "length less than or equal to 64"),
    ],
    ids=["26-finding-ids", "task-id-with-colon", "65-character-token"],
)
def test_start_task_limits_that_botocore_does_not_check(
    quiet_env: Env, client: str, overrides: dict[str, Any], phrase: str
) -> None:
    _assert_invalid_request(
        getattr(quiet_env, client), "StartAuditMitigationActionsTask", _start_task(**overrides), phrase
    )


@pytest.mark.parametrize(
    ("operation", "params", "phrase"),
    [
        ("ListAuditFindings", {"taskId": "a1", "startTime": NOW, "endTime": NOW}, "not both"),
        ("ListAuditFindings", {}, "either taskId or both startTime and endTime"),
        ("ListAuditFindings", {"startTime": NOW}, "either taskId or both startTime and endTime"),
        ("ListAuditFindings", {"startTime": NOW, "endTime": NOW - timedelta(days=1)}, "must not be after"),
        (
            "StartAuditMitigationActionsTask",
            _start_task(target={"auditTaskId": "a1", "findingIds": ["f1"]}),
            "either auditTaskId or findingIds",
        ),
        (
            "StartAuditMitigationActionsTask",
            _start_task(
                target={"findingIds": ["f1"], "auditCheckToReasonCodeFilter": {LOGGING: ["LOGGING_DISABLED"]}}
            ),
            "only be used together with auditTaskId",
        ),
        ("StartAuditMitigationActionsTask", _start_task(target={}), "either auditTaskId or findingIds"),
        (
            "CreateMitigationAction",
            {
                "actionName": "Both",
                "roleArn": ROLE,
                "actionParams": {
                    "updateDeviceCertificateParams": {"action": "DEACTIVATE"},
                    "updateCACertificateParams": {"action": "DEACTIVATE"},
                },
            },
            "exactly one kind",
        ),
        (
            "CreateMitigationAction",
            {"actionName": "None", "roleArn": ROLE, "actionParams": {}},
            "exactly one kind",
        ),
        (
            "CreateScheduledAudit",
            {"scheduledAuditName": "Weekly", "frequency": "WEEKLY", "targetCheckNames": [LOGGING]},
            "dayOfWeek is required",
        ),
        (
            "CreateAuditSuppression",
            {
                "checkName": LOGGING,
                "resourceIdentifier": {"account": ACCOUNT_ID, "clientId": "c1"},
                "suppressIndefinitely": True,
            },
            "exactly one resource",
        ),
    ],
    ids=[
        "findings-task-and-time-range",
        "findings-neither",
        "findings-half-time-range",
        "findings-reversed-range",
        "task-two-targets",
        "task-filter-without-audit",
        "task-empty-target",
        "action-two-params",
        "action-no-params",
        "weekly-without-day",
        "suppression-two-resources",
    ],
)
def test_rules_across_members_are_enforced(
    quiet_env: Env, operation: str, params: dict[str, Any], phrase: str
) -> None:
    _assert_invalid_request(quiet_env.raw, operation, params, phrase)


def _error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_reused_task_id_is_idempotent_with_the_same_token_and_rejected_with_another(env: Env) -> None:
    params = VALID["StartAuditMitigationActionsTask"]["by-audit"](env.world)

    first = env.iot.start_audit_mitigation_actions_task(**params)
    again = env.iot.start_audit_mitigation_actions_task(**params)

    assert first["taskId"] == again["taskId"] == params["taskId"]
    listed = env.iot.list_audit_mitigation_actions_tasks(
        startTime=NOW - timedelta(days=1), endTime=NOW + timedelta(days=1)
    )
    assert [t["taskId"] for t in listed["tasks"]].count(params["taskId"]) == 1
    assert _error(
        lambda: env.iot.start_audit_mitigation_actions_task(
            **{**params, "clientRequestToken": "another-token"}
        )
    ) == ("TaskAlreadyExistsException", 400)


def test_missing_resources_are_404(env: Env) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: env.iot.describe_audit_task(taskId="deadbeef"),
        lambda: env.iot.describe_audit_finding(findingId="no-such-finding"),
        lambda: env.iot.describe_mitigation_action(actionName="NoSuchAction"),
        lambda: env.iot.describe_audit_mitigation_actions_task(taskId="no-such-task"),
        lambda: env.iot.describe_scheduled_audit(scheduledAuditName="NoSuchAudit"),
        lambda: env.iot.describe_audit_suppression(
            checkName=LOGGING, resourceIdentifier={"account": ACCOUNT_ID}
        ),
        lambda: env.iot.cancel_audit_task(taskId="deadbeef"),
    ]
    assert [_error(call) for call in calls] == [("ResourceNotFoundException", 404)] * len(calls)


def test_duplicates_are_409(env: Env) -> None:
    assert _error(
        lambda: env.iot.create_mitigation_action(
            actionName="BlankPolicy",
            roleArn=ROLE,
            actionParams={"replaceDefaultPolicyVersionParams": {"templateName": "BLANK_POLICY"}},
        )
    ) == ("ResourceAlreadyExistsException", 409)
    assert _error(
        lambda: env.iot.create_scheduled_audit(
            scheduledAuditName="DailyAudit", frequency="DAILY", targetCheckNames=[LOGGING]
        )
    ) == ("ResourceAlreadyExistsException", 409)
    assert _error(
        lambda: env.iot.create_audit_suppression(
            checkName="REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            resourceIdentifier=SUPPRESSED_CA,
            suppressIndefinitely=True,
        )
    ) == ("ResourceAlreadyExistsException", 409)


def test_more_than_ten_on_demand_audits_in_progress_is_410(env: Env) -> None:
    # The fixture leaves one audit running.
    for _ in range(9):
        env.iot.start_on_demand_audit_task(targetCheckNames=[LOGGING])

    assert _error(lambda: env.iot.start_on_demand_audit_task(targetCheckNames=[LOGGING])) == (
        "LimitExceededException",
        410,
    )
    env.emulator.settle()
    env.iot.start_on_demand_audit_task(targetCheckNames=[LOGGING])


def test_more_mitigation_tasks_in_progress_than_configured_is_410(env: Env) -> None:
    env.emulator.max_in_progress_mitigation_tasks = 2  # the fixture leaves one task running
    env.iot.start_audit_mitigation_actions_task(
        **VALID["StartAuditMitigationActionsTask"]["by-findings"](env.world)
    )

    assert _error(
        lambda: env.iot.start_audit_mitigation_actions_task(
            **VALID["StartAuditMitigationActionsTask"]["by-audit"](env.world)
        )
    ) == ("LimitExceededException", 410)


def test_an_eleventh_mitigation_task_in_progress_is_410_as_the_quota_says(env: Env) -> None:
    # AWS General Reference, Device Defender quotas: 10 audit mitigation action tasks running at the same time.
    # The fixture leaves one task running.
    by_findings = VALID["StartAuditMitigationActionsTask"]["by-findings"](env.world)
    for index in range(9):
        env.iot.start_audit_mitigation_actions_task(
            **by_findings | {"taskId": f"quota-{index}", "clientRequestToken": f"quota-token-{index}"}
        )

    assert _error(
        lambda: env.iot.start_audit_mitigation_actions_task(
            **by_findings | {"taskId": "quota-10", "clientRequestToken": "quota-token-10"}
        )
    ) == ("LimitExceededException", 410)
    env.emulator.settle()
    env.iot.start_audit_mitigation_actions_task(
        **by_findings | {"taskId": "quota-11", "clientRequestToken": "quota-token-11"}
    )


def test_a_sixth_scheduled_audit_is_410(env: Env) -> None:
    for index in range(4):
        env.iot.create_scheduled_audit(
            scheduledAuditName=f"Audit{index}", frequency="DAILY", targetCheckNames=[LOGGING]
        )

    assert _error(
        lambda: env.iot.create_scheduled_audit(
            scheduledAuditName="OneTooMany", frequency="DAILY", targetCheckNames=[LOGGING]
        )
    ) == ("LimitExceededException", 410)


@pytest.mark.parametrize(
    "call",
    [
        lambda iot, w: iot.start_on_demand_audit_task(targetCheckNames=["CA_CERTIFICATE_EXPIRING_CHECK"]),
        lambda iot, w: iot.start_on_demand_audit_task(targetCheckNames=["NO_SUCH_CHECK"]),
        lambda iot, w: iot.cancel_audit_task(taskId=w.audit_task_id),
        lambda iot, w: iot.start_audit_mitigation_actions_task(
            taskId="t",
            target={"auditTaskId": w.running_audit_id},
            auditCheckToActionsMapping={LOGGING: ["EnableErrorLogging"]},
        ),
        lambda iot, w: iot.start_audit_mitigation_actions_task(
            taskId="t",
            target={"findingIds": ["unknown"]},
            auditCheckToActionsMapping={LOGGING: ["EnableErrorLogging"]},
        ),
        lambda iot, w: iot.start_audit_mitigation_actions_task(
            taskId="t",
            target={"auditTaskId": w.audit_task_id},
            auditCheckToActionsMapping={LOGGING: ["NoSuchAction"]},
        ),
        lambda iot, w: iot.start_audit_mitigation_actions_task(
            taskId="t",
            target={"auditTaskId": w.audit_task_id},
            auditCheckToActionsMapping={LOGGING: ["BlankPolicy"]},
        ),
        lambda iot, w: iot.list_audit_findings(taskId=w.audit_task_id, nextToken="not-a-token"),
        lambda iot, w: iot.list_audit_tasks(startTime=NOW - timedelta(days=91), endTime=NOW),
        lambda iot, w: iot.update_account_audit_configuration(
            auditCheckConfigurations={
                EXPIRING: {"enabled": True, "configuration": {"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "7"}}
            }
        ),
        lambda iot, w: iot.update_account_audit_configuration(
            auditCheckConfigurations={LOGGING: {"enabled": False}}
        ),
        lambda iot, w: iot.delete_account_audit_configuration(),
    ],
    ids=[
        "audit-of-a-disabled-check",
        "audit-of-an-unknown-check",
        "cancel-a-completed-audit",
        "mitigate-an-audit-in-progress",
        "mitigate-an-unknown-finding",
        "mitigate-with-an-unknown-action",
        "mitigate-with-an-action-the-check-does-not-support",
        "foreign-next-token",
        "tasks-before-the-retention-period",
        "threshold-below-30-days",
        "disable-a-check-a-scheduled-audit-uses",
        "delete-configuration-with-scheduled-audits",
    ],
)
def test_semantic_errors_are_invalid_request(env: Env, call: Callable[[Any, World], Any]) -> None:
    assert _error(lambda: call(env.iot, env.world)) == ("InvalidRequestException", 400)


def test_get_v2_logging_options_before_any_set_is_not_configured(clients: Clients) -> None:
    with mock_aws(), DeviceDefenderEmulator():
        assert _error(clients.iot.get_v2_logging_options) == ("NotConfiguredException", 404)


def test_list_operations_page_with_next_token(env: Env) -> None:
    for index in range(5):
        env.iot.create_mitigation_action(
            actionName=f"Publish{index}",
            roleArn=ROLE,
            actionParams={"publishFindingToSnsParams": {"topicArn": env.world.topic_arn}},
        )
    names = [
        a["actionName"]
        for page in env.iot.get_paginator("list_mitigation_actions").paginate(
            PaginationConfig={"PageSize": 2}
        )
        for a in page["actionIdentifiers"]
    ]
    first_page = env.iot.list_mitigation_actions(maxResults=2)

    assert names == [
        "BlankPolicy",
        "PublishFindings",
        "EnableErrorLogging",
        *(f"Publish{i}" for i in range(5)),
    ]
    assert len(first_page["actionIdentifiers"]) == 2
    assert "nextToken" in first_page


def test_a_before_call_hook_registered_by_someone_else_wins(env: Env) -> None:
    with Stubber(env.iot) as stubber:
        stubber.add_client_error(
            "describe_audit_task", service_error_code="ThrottlingException", http_status_code=400
        )
        assert _error(lambda: env.iot.describe_audit_task(taskId=env.world.audit_task_id)) == (
            "ThrottlingException",
            400,
        )
    assert env.iot.describe_audit_task(taskId=env.world.audit_task_id)["taskStatus"] == "COMPLETED"


def test_the_most_recently_installed_emulator_answers_until_it_is_uninstalled(clients: Clients) -> None:
    with mock_aws(), DeviceDefenderEmulator():
        clients.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="INFO")
        with DeviceDefenderEmulator():
            assert _error(clients.iot.get_v2_logging_options) == ("NotConfiguredException", 404)
        assert clients.iot.get_v2_logging_options()["defaultLogLevel"] == "INFO"
