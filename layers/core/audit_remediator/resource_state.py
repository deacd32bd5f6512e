"""The pre-state record: what a mitigation task will change, written before it starts and checked after it
ends. Rollback and lineage read these records; this module is the one definition of their shape.

RemediationTable item, one per (task, finding) whose actions change state (publishing a finding changes
nothing and is not recorded):

- pk `PRESTATE#<auditTaskId>`, sk `TASK#<taskId>#FINDING#<findingId>`: every record of an audit (query by
  pk) or of one task (pk and `begins_with(sk, "TASK#<taskId>#")`);
- GSI `ByResource` (`byResource` = the resource key of the attempt history, `recordedAt`): every record
  of one resource across audits, oldest first;
- `before`: JSON of the fields the actions change, as they were before the task started:
  `certificate` {id, status}, `caCertificate` {id, status}, `things` {thing name: [thing groups]} with
  the `certificateId` they were reached through, `policy` {name, defaultVersionId}, `logging` (the
  GetV2LoggingOptions result, or {"configured": false}); `unrecorded` says why a field could not be
  recorded (an intermediate-CA finding names no device certificate). Rollback restores exactly these fields: the
  certificate's status, the thing's groups (out of the groups it was not in), the policy's default
  version (and deletes the blank one), the logging options;
- `actionTypes`, `check`, `auditTaskId`, `taskId`, `findingId`, `recordedAt` (ISO 8601 UTC), `expiresAt`,
  `findingTime` (when IoT found it, ISO 8601 UTC; absent when IoT did not say);
- after the task: `verification` (`verified` | `not-verified`), `observed` (JSON, same field names as
  `before`), `reasons` (JSON list), `iotStatus`, `verifiedAt`;
- after a rollback handled it: `rolledBackAt` (ISO 8601 UTC), `rolledBackBy` (caller ARN), `rollbackResult`
  (`restored` | `already-restored` | `refused-drifted` | `forced`), `rollbackObserved` (JSON of the state found
  before restoring, by field: `certificate`, `caCertificate`, `things.<thing name>`, `policy`).

The first record of a (task, finding) is kept: a retried page or a re-run of the same task id never
overwrites it with a state the task may already have changed.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audit_remediator.checks import ActionType
from audit_remediator.impact import AuditFindingView

# A certificate shared by more things than this cannot be recorded in one item (400 KB with ten groups
# of 128 characters each per thing); its task does not start and the report says why.
MAX_THINGS_RECORDED = 100

# DescribeMitigationAction's actionParams member -> the action's type (botocore: MitigationActionParams).
PARAMS_TYPES: Mapping[str, ActionType] = {
    "updateDeviceCertificateParams": ActionType.UPDATE_DEVICE_CERTIFICATE,
    "updateCACertificateParams": ActionType.UPDATE_CA_CERTIFICATE,
    "addThingsToThingGroupParams": ActionType.ADD_THINGS_TO_THING_GROUP,
    "replaceDefaultPolicyVersionParams": ActionType.REPLACE_DEFAULT_POLICY_VERSION,
    "enableIoTLoggingParams": ActionType.ENABLE_IOT_LOGGING,
    "publishFindingToSnsParams": ActionType.PUBLISH_FINDING_TO_SNS,
}
STATE_CHANGING = frozenset(PARAMS_TYPES.values()) - {ActionType.PUBLISH_FINDING_TO_SNS}


def record_keys(audit_task_id: str, task_id: str, finding_id: str) -> dict[str, str]:
    return {"pk": f"PRESTATE#{audit_task_id}", "sk": f"TASK#{task_id}#FINDING#{finding_id}"}


def task_prefix(task_id: str) -> str:
    return f"TASK#{task_id}#FINDING#"


@dataclass(frozen=True, slots=True)
class ThingLink:
    thing_name: str
    # EXCLUSIVE_THING | NON_EXCLUSIVE_THING, or None when IoT does not say (the documented default is
    # NON_EXCLUSIVE_THING: API reference, PrincipalThingObject).
    association: str | None


class IotStateReads(Protocol):
    """The reads both phases make; a resource that no longer exists reads as None (or empty)."""

    def action_params(self, action_name: str) -> Mapping[str, Any]: ...

    def findings_page(
        self, audit_task_id: str, check: str, next_token: str | None, page_size: int
    ) -> tuple[list[AuditFindingView], str | None]: ...

    def finding(self, finding_id: str) -> AuditFindingView | None:
        """None for a finding IoT does not know: nothing to record, and IoT refuses the task itself."""
        ...

    def certificate_status(self, certificate_id: str) -> str | None: ...

    def ca_certificate_status(self, certificate_id: str) -> str | None: ...

    def certificate_things(self, certificate_id: str, limit: int) -> list[ThingLink]: ...

    def thing_groups(self, thing_name: str) -> list[str]: ...

    def policy_default_version(self, policy_name: str) -> str | None: ...

    def policy_grants_nothing(self, policy_name: str, version_id: str) -> bool: ...

    def logging_options(self) -> dict[str, Any]: ...

    def group_policies(self, group_name: str) -> frozenset[str]: ...

    def finding_action_statuses(self, task_id: str, finding_id: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One record as the verification reads it back."""

    finding_id: str
    check: str
    resource_identifier: Mapping[str, Any]
    action_names: tuple[str, ...]
    before: Mapping[str, Any]
    finding_time: str | None = None


class StateStore(Protocol):
    def put_first(
        self,
        audit_task_id: str,
        task_id: str,
        finding: AuditFindingView,
        action_names: Sequence[str],
        action_types: Iterable[ActionType],
        before: Mapping[str, Any],
        expires_at: int,
    ) -> None:
        """Writes the record unless one exists for this (task, finding)."""
        ...

    def page(
        self, audit_task_id: str, task_id: str, cursor: Mapping[str, Any] | None, page_size: int
    ) -> tuple[list[StateRecord], dict[str, Any] | None]: ...

    def put_verification(
        self,
        audit_task_id: str,
        task_id: str,
        finding_id: str,
        result: str,
        observed: Mapping[str, Any],
        reasons: Sequence[str],
        iot_status: str,
    ) -> None: ...


class ActionCatalog:
    """Action name -> type and parameters, read from IoT once per invocation: the actions IoT runs are the
    single source of what they change and of the state they should produce."""

    def __init__(self, iot: IotStateReads) -> None:
        self._iot = iot
        self._params: dict[str, Mapping[str, Any]] = {}

    def params(self, action_name: str) -> Mapping[str, Any]:
        if action_name not in self._params:
            self._params[action_name] = self._iot.action_params(action_name)
        return self._params[action_name]

    def action_type(self, action_name: str) -> ActionType | None:
        return next((PARAMS_TYPES[key] for key in self.params(action_name) if key in PARAMS_TYPES), None)

    def types(self, action_names: Iterable[str]) -> frozenset[ActionType]:
        return frozenset(t for name in action_names if (t := self.action_type(name)) is not None)

    def added_groups(self, action_names: Iterable[str]) -> list[str]:
        """The thing groups the ADD_THINGS_TO_THING_GROUP actions among `action_names` add things to."""
        return [
            group
            for name in action_names
            if self.action_type(name) is ActionType.ADD_THINGS_TO_THING_GROUP
            for group in self.params(name)["addThingsToThingGroupParams"]["thingGroupNames"]
        ]
