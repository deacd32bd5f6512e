"""Fixtures every suite shares: sample events and the sandbox's identity."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events" / "audit_events"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "iot-audit-remediator"
AUDIT_EVENTS_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{STACK_NAME}-audit-events"


def function_environment() -> set[str]:
    """The variables AuditEventsFunction's environment must set: its settings model's required ones,
    plus Powertools' log level (service name and namespace are constants in code)."""
    from audit_remediator.settings import AuditEventsSettings

    fields = AuditEventsSettings.model_fields.values()
    return {str(field.alias) for field in fields if field.is_required()} | {"POWERTOOLS_LOG_LEVEL"}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return event


def sns_message(event: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(event["Records"][0]["Sns"]["Message"])
    return message


def with_message(event: dict[str, Any], message: Any) -> dict[str, Any]:
    """A copy of an SNS event carrying another message (a dict is serialised, a str kept)."""
    copy = json.loads(json.dumps(event))
    copy["Records"][0]["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
    return copy


_README_ROW = re.compile(r"^\| `(?P<file>[a-z0-9-]+\.json)` \| `(?P<decision>[a-z-]+)` \|", re.MULTILINE)


def readme_decisions() -> dict[str, str]:
    """The decision the README's event table states for each sample event (MODE=Enforce)."""
    return {
        match["file"]: match["decision"] for match in _README_ROW.finditer((ROOT / "README.md").read_text())
    }


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    """Metrics are module-level (one per function); each test starts with none pending."""
    from audit_remediator.observability import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def event_names() -> list[str]:
    return sorted(path.stem for path in EVENTS_DIR.glob("*.json"))
