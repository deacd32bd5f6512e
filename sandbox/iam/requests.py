"""What an API call asks IAM: the action, the resource ARN and the request's own condition keys, for
the calls the stack's runtime roles make (the Service Authorization Reference's "Actions, resources,
and condition keys" page of each service names the resource type each action is authorized on).

A call this table does not know is authorized as `<prefix>:<Operation>` on "*" with no condition key:
only a statement granting the action on every resource allows it, so the sandbox can refuse what AWS
would allow but never allow what a resource-scoped or conditioned policy would refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlparse

ResourceKind = Literal["topic", "queue", "table", "function", "none"]


class UnsupportedRequestError(NotImplementedError):
    """The sandbox does not know which action and resource an API call is authorized on."""


@dataclass(frozen=True)
class Where:
    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Access:
    """One authorization: `action` on `resource`, and the resource's kind (whose policy and key apply)."""

    action: str
    resource: str
    kind: ResourceKind = "none"
    context: Mapping[str, Any] = field(default_factory=dict)
    # The key use the service makes on the caller's behalf when the resource is encrypted with a
    # customer managed key: a write needs a data key, a read or write of an item the table's key.
    key_actions: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        """The action's IAM service prefix (`sns` of `sns:Publish`)."""
        return self.action.split(":", 1)[0]


# What a writer to an encrypted topic or queue needs of its key (SNS and SQS developer guides, key management).
WRITE_KEY_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")
_TABLE_KEY_ACTIONS: Final = ("kms:Decrypt",)


def _table_arn(name: str, where: Where) -> str:
    return name if name.startswith("arn:") else where.arn("dynamodb", f"table/{name}")


def _queue_arn(url: str, where: Where) -> str:
    path = [part for part in urlparse(url).path.split("/") if part]
    if len(path) != 2:
        raise UnsupportedRequestError(f"cannot tell the queue of QueueUrl {url!r}")
    account, name = path
    return f"arn:{where.partition}:sqs:{where.region}:{account}:{name}"


def _table(action: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    def accesses(params: Mapping[str, Any], where: Where) -> list[Access]:
        table = _table_arn(str(params["TableName"]), where)
        index = params.get("IndexName")
        resource = f"{table}/index/{index}" if index else table
        return [Access(action, resource, "table", key_actions=_TABLE_KEY_ACTIONS)]

    return accesses


_TRANSACT_ACTIONS: Final = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _transact_write(params: Mapping[str, Any], where: Where) -> list[Access]:
    accesses: list[Access] = []
    for item in params["TransactItems"]:
        for member, action in _TRANSACT_ACTIONS.items():
            if member in item:
                table = _table_arn(str(item[member]["TableName"]), where)
                accesses.append(Access(action, table, "table", key_actions=_TABLE_KEY_ACTIONS))
    return accesses


def _publish(params: Mapping[str, Any], _where: Where) -> list[Access]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    if not topic or ":sns:" not in str(topic):
        raise UnsupportedRequestError("sns:Publish to a phone number or platform endpoint")
    return [Access("sns:Publish", str(topic), "topic", key_actions=WRITE_KEY_ACTIONS)]


def _send_message(params: Mapping[str, Any], where: Where) -> list[Access]:
    queue = _queue_arn(str(params["QueueUrl"]), where)
    return [Access("sqs:SendMessage", queue, "queue", key_actions=WRITE_KEY_ACTIONS)]


def _get_queue_url(params: Mapping[str, Any], where: Where) -> list[Access]:
    account = params.get("QueueOwnerAWSAccountId") or where.account
    queue = f"arn:{where.partition}:sqs:{where.region}:{account}:{params['QueueName']}"
    return [Access("sqs:GetQueueUrl", queue, "queue")]


def _start_execution(params: Mapping[str, Any], _where: Where) -> list[Access]:
    return [Access("states:StartExecution", str(params["stateMachineArn"]))]


def _put_metric_data(params: Mapping[str, Any], _where: Where) -> list[Access]:
    # PutMetricData has no resource type; cloudwatch:namespace is its condition key.
    return [Access("cloudwatch:PutMetricData", "*", context={"cloudwatch:namespace": params["Namespace"]})]


def _attach_policy(params: Mapping[str, Any], _where: Where) -> list[Access]:
    return [Access("iot:AttachPolicy", str(params["target"]))]


def _set_logging_options(params: Mapping[str, Any], _where: Where) -> list[Access]:
    """iot:SetV2LoggingOptions has no resource type; a request that names a role passes it, and "the
    principal used to call the API must have pass role permissions for your logging role" (IoT developer
    guide, "Configure default logging in AWS IoT (CLI)")."""
    needed = [Access("iot:SetV2LoggingOptions", "*")]
    if params.get("roleArn"):
        context = {"iam:PassedToService": "iot.amazonaws.com"}
        needed.append(Access("iam:PassRole", str(params["roleArn"]), context=context))
    return needed


def _iot_unscoped(operation: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    """A Device Defender (or policy listing) action with no resource type: authorized on "*"."""

    def accesses(_params: Mapping[str, Any], _where: Where) -> list[Access]:
        return [Access(f"iot:{operation}", "*")]

    return accesses


def _iot_resource(
    action: str, resource: str, member: str
) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    """An IoT read authorized on one resource (Service Authorization Reference, AWS IoT: `cert`,
    `cacert`, `policy`, `thing` and `mitigationaction` resource types)."""

    def accesses(params: Mapping[str, Any], where: Where) -> list[Access]:
        return [Access(action, where.arn("iot", f"{resource}/{params[member]}"))]

    return accesses


def _thing_in_group(action: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    """Authorized on both the thing and the thing group (Service Authorization Reference, AWS IoT: resource
    types `thing` and `thinggroup`, as for a quarantine action's AddThingToThingGroup); either may be
    named or given by ARN."""

    def accesses(params: Mapping[str, Any], where: Where) -> list[Access]:
        thing = params.get("thingArn") or where.arn("iot", f"thing/{params.get('thingName')}")
        group = params.get("thingGroupArn") or where.arn("iot", f"thinggroup/{params.get('thingGroupName')}")
        return [Access(action, str(thing)), Access(action, str(group))]

    return accesses


def _parameter(action: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    """Authorized on the parameter: `arn:...:parameter/<name without its leading slash>` (Service
    Authorization Reference, Systems Manager: resource type `parameter`); a name may carry a
    `:version` or `:label` selector, and may be the parameter's ARN."""

    def accesses(params: Mapping[str, Any], where: Where) -> list[Access]:
        name = str(params["Name"])
        if name.startswith("arn:"):
            return [Access(action, name.rsplit(":", 1)[0] if name.count(":") > 5 else name)]
        return [Access(action, where.arn("ssm", "parameter/" + name.split(":", 1)[0].lstrip("/")))]

    return accesses


def _execution_access(action: str, member: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    def accesses(params: Mapping[str, Any], _where: Where) -> list[Access]:
        return [Access(action, str(params[member]))]

    return accesses


def _invoke(params: Mapping[str, Any], where: Where) -> list[Access]:
    name = str(params["FunctionName"])
    function = name if name.startswith("arn:") else where.arn("lambda", f"function:{name}")
    return [Access("lambda:InvokeFunction", function, "function")]


def _securityhub(action: str) -> Callable[[Mapping[str, Any], Where], list[Access]]:
    """Authorized on the account's hub, `arn:...:securityhub:<region>:<account>:hub/default` (Service
    Authorization Reference, Security Hub: resource type `hub`); BatchUpdateFindings passes the workflow
    status it sets as `securityhub:ASFFSyntaxPath/Workflow.Status` (Security Hub user guide,
    "Configuring access to BatchUpdateFindings")."""

    def accesses(params: Mapping[str, Any], where: Where) -> list[Access]:
        context: dict[str, Any] = {}
        status = (params.get("Workflow") or {}).get("Status")
        if status is not None:
            context["securityhub:ASFFSyntaxPath/Workflow.Status"] = status
        return [Access(action, where.arn("securityhub", "hub/default"), context=context)]

    return accesses


_REQUESTS: Final[dict[tuple[str, str], Callable[[Mapping[str, Any], Where], list[Access]]]] = {
    ("dynamodb", "GetItem"): _table("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _table("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _table("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _table("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _table("dynamodb:Query"),
    ("dynamodb", "TransactWriteItems"): _transact_write,
    ("sns", "Publish"): _publish,
    ("sqs", "SendMessage"): _send_message,
    ("sqs", "GetQueueUrl"): _get_queue_url,
    ("stepfunctions", "StartExecution"): _start_execution,
    ("cloudwatch", "PutMetricData"): _put_metric_data,
    ("iot", "AttachPolicy"): _attach_policy,
    ("lambda", "Invoke"): _invoke,
    ("iot", "DescribeCertificate"): _iot_resource("iot:DescribeCertificate", "cert", "certificateId"),
    ("iot", "DescribeCACertificate"): _iot_resource("iot:DescribeCACertificate", "cacert", "certificateId"),
    ("iot", "GetPolicy"): _iot_resource("iot:GetPolicy", "policy", "policyName"),
    ("iot", "GetPolicyVersion"): _iot_resource("iot:GetPolicyVersion", "policy", "policyName"),
    ("iot", "ListThingGroupsForThing"): _iot_resource("iot:ListThingGroupsForThing", "thing", "thingName"),
    ("iot", "ListThingPrincipals"): _iot_resource("iot:ListThingPrincipals", "thing", "thingName"),
    ("iot", "DescribeThing"): _iot_resource("iot:DescribeThing", "thing", "thingName"),
    ("iot", "DescribeThingGroup"): _iot_resource("iot:DescribeThingGroup", "thinggroup", "thingGroupName"),
    ("iot", "UpdateCertificate"): _iot_resource("iot:UpdateCertificate", "cert", "certificateId"),
    ("iot", "UpdateCACertificate"): _iot_resource("iot:UpdateCACertificate", "cacert", "certificateId"),
    ("iot", "SetDefaultPolicyVersion"): _iot_resource("iot:SetDefaultPolicyVersion", "policy", "policyName"),
    ("iot", "DeletePolicyVersion"): _iot_resource("iot:DeletePolicyVersion", "policy", "policyName"),
    ("iot", "AddThingToThingGroup"): _thing_in_group("iot:AddThingToThingGroup"),
    ("iot", "RemoveThingFromThingGroup"): _thing_in_group("iot:RemoveThingFromThingGroup"),
    ("iot", "DescribeMitigationAction"): _iot_resource(
        "iot:DescribeMitigationAction", "mitigationaction", "actionName"
    ),
    # API reference, ListPrincipalThingsV2: "Requires permission to access the ListPrincipalThings action".
    ("iot", "ListPrincipalThingsV2"): lambda _params, _where: [Access("iot:ListPrincipalThings", "*")],
    # STS API reference: "No permissions are required to perform this operation", even when denied.
    ("sts", "GetCallerIdentity"): lambda _params, _where: [],
    ("ssm", "GetParameter"): _parameter("ssm:GetParameter"),
    ("ssm", "GetParameterHistory"): _parameter("ssm:GetParameterHistory"),
    ("ssm", "PutParameter"): _parameter("ssm:PutParameter"),
    ("stepfunctions", "ListExecutions"): _execution_access("states:ListExecutions", "stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _execution_access("states:DescribeExecution", "executionArn"),
    ("iot", "SetV2LoggingOptions"): _set_logging_options,
    ("securityhub", "GetFindings"): _securityhub("securityhub:GetFindings"),
    ("securityhub", "BatchUpdateFindings"): _securityhub("securityhub:BatchUpdateFindings"),
    **{
        ("iot", operation): _iot_unscoped(operation)
        for operation in (
            "StartAuditMitigationActionsTask",
            "DescribeAuditMitigationActionsTask",
            "ListAuditMitigationActionsExecutions",
            "CancelAuditMitigationActionsTask",
            "ListAuditFindings",
            "DescribeAuditTask",
            "ListAttachedPolicies",
            "CreateAuditSuppression",
            "DeleteAuditSuppression",
            "ListAuditSuppressions",
            "DescribeAuditFinding",
            "GetV2LoggingOptions",
        )
    },
}


# botocore's service name -> IAM's service prefix, where they differ.
IAM_PREFIXES: Final = {"stepfunctions": "states"}


def accesses(service: str, operation: str, params: Mapping[str, Any], where: Where) -> list[Access]:
    """The authorizations one call needs (a transaction: one per item)."""
    request = _REQUESTS.get((service, operation))
    if request is None:
        return [Access(f"{IAM_PREFIXES.get(service, service)}:{operation}", "*")]
    return request(params, where)


def known_requests() -> frozenset[tuple[str, str]]:
    return frozenset(_REQUESTS)
