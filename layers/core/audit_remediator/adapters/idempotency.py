"""Powertools idempotency (DynamoDB) around the intake's `start_once`: one decorated function."""

from dataclasses import replace
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import DataclassSerializer

from audit_remediator.intake import StartOnce, start_once
from audit_remediator.models.plan import Started

# Re-deliveries beyond a day are caught by the deterministic execution names and task ids.
RECORD_TTL_SECONDS = 24 * 3600
# Every field of OnceKey, named, so a field added to it cannot silently stay out of the key.
ONCE_KEY_JMESPATH = "[kind, account_id, audit_task_id, finding_id, rules_version]"
# Powertools prefixes a key with the Lambda function's name unless given one (`key_prefix`): the
# reconciliation sweep decides an audit in another function, and must find the notification's record.
ONCE_KEY_PREFIX = "start_once"


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:  # noqa: ARG001 - the hook signature
    """A stored result handed to a later delivery: that delivery started nothing."""
    return replace(response, replayed=True)


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath=ONCE_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_TTL_SECONDS,
        response_hook=_replayed,
    )


def once_per_key(persistence: BasePersistenceLayer, config: IdempotencyConfig) -> StartOnce:
    """`start_once` under Powertools idempotency: one run per OnceKey while its record lives."""
    return cast(
        StartOnce,
        idempotent_function(
            start_once,
            data_keyword_argument="request",
            persistence_store=persistence,
            key_prefix=ONCE_KEY_PREFIX,
            config=config,
            output_serializer=DataclassSerializer(Started),
        ),
    )
