"""Builds the production collaborators of the intake logic, lazily and once per container."""

import functools
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

from audit_remediator.adapters.executions import StepFunctionsExecutions
from audit_remediator.adapters.history import RemediationHistory
from audit_remediator.adapters.idempotency import idempotency_config, once_per_key
from audit_remediator.adapters.kill_switch import ParameterKillSwitch
from audit_remediator.adapters.quarantine import QuarantineQueue
from audit_remediator.intake import Services
from audit_remediator.observability import tracer
from audit_remediator.rules import DeployedActions, RuleSet, load_rules
from audit_remediator.settings import AuditEventsSettings

# Standard retry mode backs off on throttling; the invocation's own async retries come after these.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


@cache
def audit_events_settings() -> AuditEventsSettings:
    return AuditEventsSettings.from_environment(os.environ)


@cache
def rules() -> RuleSet:
    """The packaged rules, checked against the stack's mitigation actions; a RulesError is not
    cached, so a fixed deployment is read on the next call."""
    settings = audit_events_settings()
    return load_rules(
        deployed=DeployedActions(settings.mitigation_action_name_prefix, settings.mitigation_action_names)
    )


@cache
def once_config() -> IdempotencyConfig:
    """One per container: the handler registers each invocation's context on it, so Powertools can
    expire an in-progress record when the invocation runs out of time."""
    return idempotency_config()


@cache
def audit_events_services() -> Services:
    settings = audit_events_settings()
    session = boto3.session.Session(region_name=settings.region)
    return Services(
        settings=settings,
        rules=rules,
        executions=StepFunctionsExecutions(
            session.client("stepfunctions", config=_BOTO_CONFIG), settings.state_machine_arn
        ),
        history=RemediationHistory(
            session.client("dynamodb", config=_BOTO_CONFIG),
            settings.remediation_table_name,
            settings.history_retention_days,
        ),
        quarantine=QuarantineQueue(session.client("sqs", config=_BOTO_CONFIG), settings.quarantine_queue_url),
        kill_switch=ParameterKillSwitch(
            SSMProvider(boto3_client=session.client("ssm", config=_BOTO_CONFIG)),
            settings.kill_switch_parameter_name,
        ),
        start_once=once_per_key(
            DynamoDBPersistenceLayer(
                table_name=settings.idempotency_table_name,
                boto3_client=session.client("dynamodb", config=_BOTO_CONFIG),
            ),
            once_config(),
        ),
    )


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def traced(handler: Handler) -> Handler:
    """`handler` under Powertools' Tracer when TRACE_AWS_CALLS=true, else as it is; decided on the
    first invocation, when the settings are read, so a cold import never loads the X-Ray SDK."""

    @functools.wraps(handler)
    def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return _tracing(handler)(event, context)

    return run


@cache
def _tracing(handler: Handler) -> Handler:
    if audit_events_settings().trace_aws_calls:
        wrapped: Handler = tracer().capture_lambda_handler(handler)
        return wrapped
    return handler
