"""Builds the pre-start analysis's collaborators, lazily and once per container, and runs it."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from audit_remediator.adapters.attempts import AttemptHistory
from audit_remediator.adapters.iot_reads import IotReader
from audit_remediator.analysis_settings import PreStartAnalysisSettings
from audit_remediator.impact import AnalysisSettings, analyse_plan
from audit_remediator.models.analysis import AnalysisRequest
from audit_remediator.rules import DeployedActions, RuleSet, load_rules

# Standard retry mode backs off on IoT's and DynamoDB's throttling before a read counts as failed.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


@dataclass
class AnalysisServices:
    settings: PreStartAnalysisSettings
    session: boto3.session.Session
    clock: Callable[[], float] = time.time

    @property
    def rules(self) -> RuleSet:
        return _rules(self.settings)


@cache
def _rules(settings: PreStartAnalysisSettings) -> RuleSet:
    return load_rules(
        deployed=DeployedActions(settings.mitigation_action_name_prefix, settings.mitigation_action_names)
    )


@cache
def analysis_services() -> AnalysisServices:
    settings = PreStartAnalysisSettings.from_environment(os.environ)
    return AnalysisServices(settings, boto3.session.Session(region_name=settings.region))


def analyse(event: dict[str, Any], services: AnalysisServices) -> dict[str, Any]:
    """The workflow's groups in, the tasks to start and each group's analysis out."""
    settings = services.settings
    request = AnalysisRequest.model_validate(event)
    result = analyse_plan(
        request,
        services.rules,
        AnalysisSettings(settings.remediation_mode, settings.mitigation_action_name_prefix),
        # A new reader per invocation: its device cache must not outlive one analysis.
        IotReader(services.session.client("iot", config=_BOTO_CONFIG), settings.certificate_arn_prefix),
        AttemptHistory(
            services.session.client("dynamodb", config=_BOTO_CONFIG), settings.remediation_table_name
        ),
        int(services.clock()),
    )
    return result.document()
