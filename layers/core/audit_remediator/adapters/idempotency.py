"""Powertools idempotency (DynamoDB) as the OnceRunner the intake logic expects."""

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

# Re-deliveries beyond a day are caught by the deterministic execution names and task ids.
RECORD_TTL_SECONDS = 24 * 3600


class PowertoolsOnce:
    def __init__(self, persistence: DynamoDBPersistenceLayer, config: IdempotencyConfig) -> None:
        self.persistence = persistence
        self.config = config

    def register_lambda_context(self, context: Any) -> None:
        """Lets Powertools expire an in-progress record when the invocation runs out of time."""
        self.config.register_lambda_context(context)

    def run_once(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def start_remediation(request: dict[str, str]) -> dict[str, Any]:  # noqa: ARG001 - Powertools hashes it
            return action()

        once = cast(
            Callable[..., dict[str, Any]],
            idempotent_function(
                start_remediation,
                data_keyword_argument="request",
                persistence_store=self.persistence,
                config=self.config,
            ),
        )
        return once(request={"idempotencyKey": key})


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="idempotencyKey",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_TTL_SECONDS,
    )
