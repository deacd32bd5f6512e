"""Builds the reconciliation sweep's collaborators, lazily and once per container: the intake's own
(so an audit is decided exactly as its notification would be), Device Defender's audit list and the
decision log."""

from functools import cache

import boto3
from botocore.config import Config

from audit_remediator.adapters.audit_tasks import AuditTaskReader
from audit_remediator.adapters.history import RemediationHistory
from audit_remediator.reconcile import ReconcileServices
from audit_remediator.services import audit_events_services

# Standard retry mode backs off on throttling; an audit whose calls still fail waits for the next sweep.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


@cache
def reconcile_services() -> ReconcileServices:
    intake = audit_events_services()
    settings = intake.settings
    session = boto3.session.Session(region_name=settings.region)
    return ReconcileServices(
        intake=intake,
        audits=AuditTaskReader(session.client("iot", config=BOTO_CONFIG), settings.account_id),
        decisions=RemediationHistory(
            session.client("dynamodb", config=BOTO_CONFIG),
            settings.remediation_table_name,
            settings.history_retention_days,
        ),
    )
