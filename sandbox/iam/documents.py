"""Where the sandbox finds each document AWS evaluates for a request, read straight from moto's
backends (no API call, so nothing is logged or faulted): a role's identity and trust policies, a
topic's, queue's, function's and key's policies, and the KMS key that encrypts a topic, queue or table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.iam.evaluation import Policy


class UnknownResourceError(LookupError):
    """A request names a resource the sandbox's account does not have."""


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {text!r}")
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])


def _document(text: Any) -> Policy | None:
    if not text:
        return None
    loaded = json.loads(text) if isinstance(text, str) else text
    return loaded if isinstance(loaded, dict) else None


def role_policies(role_arn: str) -> list[Policy]:
    """The role's inline policies and the default version of each managed policy attached to it."""
    role = _role(role_arn)
    documents = [_document(text) for text in role.policies.values()]
    for managed in role.managed_policies.values():
        version = next((v for v in managed.versions if v.is_default), None)
        documents.append(_document(version.document if version is not None else None))
    return [document for document in documents if document is not None]


def trust_policy(role_arn: str) -> Policy | None:
    return _document(_role(role_arn).assume_role_policy_document)


def role_exists(role_arn: str) -> bool:
    try:
        _role(role_arn)
    except UnknownResourceError:
        return False
    return True


def _role(role_arn: str) -> Any:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    arn = Arn.parse(role_arn)
    try:
        return iam_backends[arn.account][arn.partition].get_role_by_arn(role_arn)
    except NotFoundException as error:
        raise UnknownResourceError(f"no role {role_arn} in account {arn.account}") from error


def topic(topic_arn: str) -> Any:
    from moto.sns.models import sns_backends

    arn = Arn.parse(topic_arn)
    found = sns_backends[arn.account][arn.region].topics.get(topic_arn)
    if found is None:
        raise UnknownResourceError(f"no topic {topic_arn}")
    return found


def topic_policy(topic_arn: str) -> Policy | None:
    return _document(topic(topic_arn).policy)


def topic_key(topic_arn: str) -> str | None:
    return topic(topic_arn).kms_master_key_id or None


def queue(queue_arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    arn = Arn.parse(queue_arn)
    found = sqs_backends[arn.account][arn.region].queues.get(arn.resource)
    if found is None:
        raise UnknownResourceError(f"no queue {queue_arn}")
    return found


def queue_policy(queue_arn: str) -> Policy | None:
    return _document(queue(queue_arn).policy)


def queue_key(queue_arn: str) -> str | None:
    return getattr(queue(queue_arn), "kms_master_key_id", None) or None


def table_key(table_arn: str) -> str | None:
    """The customer managed key of a table encrypted with one (SSEType KMS), else None (AWS owned key)."""
    from moto.dynamodb.models import dynamodb_backends

    arn = Arn.parse(table_arn)
    name = arn.resource.split("/")[1]
    table = dynamodb_backends[arn.account][arn.region].tables.get(name)
    if table is None:
        return None
    sse = table.sse_specification or {}
    if not sse.get("Enabled") or sse.get("SSEType") != "KMS":
        return None
    key = sse.get("KMSMasterKeyArn") or sse.get("KMSMasterKeyId")
    return str(key) if key else None


def function_policy(function_arn: str) -> Policy | None:
    from moto.awslambda.models import lambda_backends
    from moto.core.exceptions import JsonRESTError, ServiceException

    arn = Arn.parse(function_arn)
    try:
        function = lambda_backends[arn.account][arn.region].get_function(function_arn)
        document: Policy = function.policy.get_policy()["Policy"]
    except (JsonRESTError, ServiceException):
        return None
    return document


def key_arn(key_id: str, *, account: str, region: str) -> str:
    """The ARN of the key an id, ARN, alias name or alias ARN names."""
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    try:
        return str(backend.describe_key(key_id).arn)
    except (KeyError, JsonRESTError) as error:
        raise UnknownResourceError(f"no KMS key {key_id} in {account}/{region}") from error


def key_policy(key_arn_: str) -> Policy | None:
    from moto.kms.models import kms_backends

    arn = Arn.parse(key_arn_)
    return _document(kms_backends[arn.account][arn.region].describe_key(key_arn_).policy)
