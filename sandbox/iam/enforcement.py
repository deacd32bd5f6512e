"""IAM enforced in the sandbox: every call a runtime principal makes, every delivery a service makes,
and every role a service assumes is evaluated against the account's policies as AWS evaluates it.

- A denied API call answers with the code and status the service returns (`ACCESS_DENIED`); a denied
  use of a topic's, queue's or table's customer managed key with the service's KMS error.
- A denied service delivery (EventBridge or CloudWatch to SNS, SNS to Lambda or SQS) is silent for the
  sender, as in AWS: it shows in the call log (outcome = the denial) and in `denials`.
- Every allowed request of a role is remembered in `granted` (role, action): the permissions the
  stack's roles were seen to need.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.faults import ApiCall, CallLog
from sandbox.iam import documents
from sandbox.iam.deliveries import record_failed_delivery
from sandbox.iam.evaluation import Caller, Decision, Policy, Request, evaluate
from sandbox.iam.principals import current_caller, role_session, service_principal
from sandbox.iam.requests import IAM_PREFIXES, Access, Where, accesses
from sandbox.iam.service_contexts import Readings, delivery_context, delivery_key_context, iot_assume_context

# (code, HTTP status) of an authorization failure, as each service's API returns it.
ACCESS_DENIED: Final = {
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "dynamodb": ("AccessDeniedException", 400),
    "stepfunctions": ("AccessDeniedException", 400),
    "iot": ("AccessDeniedException", 403),
    "cloudwatch": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
    "kms": ("AccessDeniedException", 400),
    "sts": ("AccessDenied", 403),
}
# A service that could not use the resource's customer managed key for the caller.
KEY_ACCESS_DENIED: Final = {
    "sns": ("KMSAccessDenied", 400),
    "sqs": ("KMS.AccessDeniedException", 400),
    "dynamodb": ("AccessDeniedException", 400),
}
_VIA_SERVICE: Final = {"sns": "sns", "sqs": "sqs", "dynamodb": "dynamodb"}
# IAM's service prefix -> botocore's service name, where they differ.
_BOTOCORE_NAMES: Final = {prefix: name for name, prefix in IAM_PREFIXES.items()}


@dataclass(frozen=True)
class Denial:
    caller: str
    action: str
    resource: str
    reason: str
    code: str
    status: int

    @property
    def message(self) -> str:
        return f"User: {self.caller} is not authorized to perform: {self.action} on resource: {self.resource} {self.reason}"


@dataclass
class Enforcement:
    """The account's IAM, as one sandbox plays it."""

    where: Where
    enabled: bool = True
    readings: Readings = field(default_factory=Readings)
    # Where refused service deliveries are shown (None: only in `denials`).
    calls: CallLog | None = None
    denials: list[Denial] = field(default_factory=list)
    granted: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- API calls ------------------------------------------------------------------------------

    def check_call(self, service: str, operation: str, params: Mapping[str, Any]) -> Denial | None:
        """The denial of a call by the current caller, or None (allowed, or made by the operator)."""
        caller = current_caller()
        if caller is None or not self.enabled:
            return None
        for access in accesses(service, operation, params, self.where):
            denial = self._check_access(caller, service, access)
            if denial is not None:
                return self._record(denial)
        return None

    def check_role_actions(self, caller: Caller, needed: Iterable[Access]) -> Denial | None:
        """The first of `needed` (what a service does with a role it assumed) the role may not do."""
        if not self.enabled:
            return None
        for access in needed:
            denial = self._check_access(caller, _BOTOCORE_NAMES.get(access.service, access.service), access)
            if denial is not None:
                return self._record(denial)
        return None

    def iot_role_denial(
        self, role_arn: str, source_arn: str, needed: Sequence[Access]
    ) -> tuple[str, str] | None:
        """AWS IoT assuming `role_arn` on behalf of `source_arn` (a mitigation action, the audit
        configuration) and doing `needed` with it: (error code, message) of the first refusal."""
        if not self.enabled:
            return None
        context = iot_assume_context(self.readings.iot, account=self.where.account, source_arn=source_arn)
        denial = self.check_assume_role("iot.amazonaws.com", role_arn, context)
        if denial is None:
            denial = self.check_role_actions(role_session(role_arn, "AWSIoT"), needed)
        return None if denial is None else (denial.code, denial.message)

    def deliver(self, principal: str, access: Access, *, source_arn: str, operation: str) -> bool:
        """Whether service principal `principal` may deliver (`access`) on behalf of `source_arn`; a
        refusal is silent for the sender and recorded as AWS shows it (sandbox.iam.deliveries)."""
        denial = self.check_delivery(service_principal(principal), access, source_arn=source_arn)
        if denial is None:
            return True
        if self.calls is not None:
            record_failed_delivery(
                self.calls,
                principal=principal,
                operation=operation,
                target=access.resource,
                source_arn=source_arn,
                code=denial.code,
                status=denial.status,
            )
        return False

    def _check_access(self, caller: Caller, service: str, access: Access) -> Denial | None:
        code, status = ACCESS_DENIED.get(service, ("AccessDeniedException", 400))
        decision = self._decide(caller, access.action, access.resource, access.kind, access.context)
        if not decision.allowed:
            return Denial(caller.arn, access.action, access.resource, decision.reason, code, status)
        key = self._resource_key(access)
        if key is None:
            return None
        key_code, key_status = KEY_ACCESS_DENIED.get(service, (code, status))
        key_context: dict[str, Any] = {"kms:CallerAccount": caller.account or self.where.account}
        via = _VIA_SERVICE.get(service)
        if via is not None:
            key_context["kms:ViaService"] = f"{via}.{self.where.region}.amazonaws.com"
        for action in access.key_actions:
            decision = self._decide(caller, action, key, "key", key_context)
            if not decision.allowed:
                return Denial(caller.arn, action, key, decision.reason, key_code, key_status)
        return None

    # --- services -------------------------------------------------------------------------------

    def check_delivery(self, principal: Caller, access: Access, *, source_arn: str) -> Denial | None:
        """A service principal delivering to a topic, queue or function on behalf of `source_arn`:
        the resource policy, and the key policy of an encrypted target, must allow it
        (sandbox.iam.service_contexts says which keys each delivery carries)."""
        if not self.enabled:
            return None
        target_service = access.resource.split(":")[2]
        account = self.where.account
        context = {
            **delivery_context(principal.arn, target_service, source_arn=source_arn, account=account),
            **access.context,
        }
        code, status = ACCESS_DENIED.get(target_service, ("AccessDeniedException", 400))
        decision = self._decide(principal, access.action, access.resource, access.kind, context)
        if not decision.allowed:
            return self._record(
                Denial(principal.arn, access.action, access.resource, decision.reason, code, status)
            )
        key = self._resource_key(access)
        if key is None:
            return None
        key_context = delivery_key_context(
            self.readings, principal.arn, source_arn=source_arn, account=account
        )
        for action in access.key_actions:
            decision = self._decide(principal, action, key, "key", key_context)
            if not decision.allowed:
                return self._record(
                    Denial(principal.arn, action, key, decision.reason, "KMS.AccessDeniedException", 400)
                )
        return None

    def check_assume_role(self, service: str, role_arn: str, context: Mapping[str, Any]) -> Denial | None:
        """`service` assuming `role_arn` with the request context it sends: the trust policy decides."""
        if not self.enabled:
            return None
        principal = Caller(arn=service, account=None, service=service)
        if not documents.role_exists(role_arn):
            return self._record(
                Denial(
                    service,
                    "sts:AssumeRole",
                    role_arn,
                    "because the role does not exist",
                    "AccessDenied",
                    403,
                )
            )
        decision = evaluate(
            Request(principal, "sts:AssumeRole", role_arn, dict(context)),
            resource_policy=documents.trust_policy(role_arn),
            resource_account=documents.Arn.parse(role_arn).account,
            resource_policy_required=True,
        )
        if decision.allowed:
            return None
        denial = Denial(service, "sts:AssumeRole", role_arn, decision.reason, "AccessDenied", 403)
        if self.calls is not None:
            self.calls.append(
                ApiCall(
                    "sts",
                    "AssumeRole",
                    {"RoleArn": role_arn},
                    outcome=denial.code,
                    status=denial.status,
                    caller=service,
                )
            )
        return self._record(denial)

    # --- evaluation -----------------------------------------------------------------------------

    def _decide(
        self, caller: Caller, action: str, resource: str, kind: str, context: Mapping[str, Any]
    ) -> Decision:
        full_context: dict[str, Any] = {"aws:SecureTransport": True, **context}
        identity: Sequence[Policy] = ()
        if caller.role_arn is not None:
            identity = documents.role_policies(caller.role_arn)
            full_context.setdefault("aws:PrincipalArn", caller.role_arn)
            full_context.setdefault("aws:PrincipalAccount", caller.account)
        resource_policy = self._resource_policy(kind, resource)
        resource_account = documents.Arn.parse(resource).account if resource.startswith("arn:") else None
        decision = evaluate(
            Request(caller, action, resource, full_context),
            identity_policies=identity,
            resource_policy=resource_policy,
            resource_account=resource_account or caller.account,
            resource_policy_required=kind == "key",
        )
        if decision.allowed and caller.role_arn is not None:
            with self._lock:
                self.granted.add((caller.role_arn, action))
        return decision

    @staticmethod
    def _resource_policy(kind: str, resource: str) -> Policy | None:
        if kind == "topic":
            return documents.topic_policy(resource)
        if kind == "queue":
            return documents.queue_policy(resource)
        if kind == "function":
            return documents.function_policy(resource)
        if kind == "key":
            return documents.key_policy(resource)
        return None

    def _resource_key(self, access: Access) -> str | None:
        if not access.key_actions:
            return None
        if access.kind == "topic":
            key = documents.topic_key(access.resource)
        elif access.kind == "queue":
            key = documents.queue_key(access.resource)
        elif access.kind == "table":
            key = documents.table_key(access.resource.split("/index/")[0])
        else:
            return None
        if key is None:
            return None
        return documents.key_arn(key, account=self.where.account, region=self.where.region)

    def _record(self, denial: Denial) -> Denial:
        with self._lock:
            self.denials.append(denial)
        return denial
