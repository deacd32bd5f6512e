"""Tracing stays available without the X-Ray SDK in every cold start."""

import json
import subprocess
import sys

import pytest

from audit_remediator import services
from tests.conftest import ROOT
from tests.unit.fakes import environment

_IMPORT = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('app', 'functions/audit_events/app.py')\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
)


def test_the_handlers_cold_import_leaves_the_xray_sdk_out() -> None:
    # Constructing Powertools' Tracer imports aws_xray_sdk.core, about half the cold import
    output = subprocess.run(
        [sys.executable, "-c", _IMPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'core'}", "AWS_DEFAULT_REGION": "us-east-1"},
    ).stdout
    assert "aws_xray_sdk" not in json.loads(output)


@pytest.mark.parametrize(("setting", "traced"), [({}, False), ({"TRACE_AWS_CALLS": "true"}, True)])
def test_the_tracer_wraps_the_handler_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, setting: dict[str, str], traced: bool
) -> None:
    for name, value in environment(**setting).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    services.audit_events_settings.cache_clear()
    services._tracing.cache_clear()
    captured: list[str] = []
    monkeypatch.setattr(
        type(services.tracer()),
        "capture_lambda_handler",
        lambda _, handler: captured.append("traced") or handler,
    )

    def handler(event: dict[str, object], context: object) -> dict[str, object]:
        return {"handled": event}

    try:
        assert services.traced(handler)({"n": 1}, None) == {"handled": {"n": 1}}
    finally:
        services.audit_events_settings.cache_clear()
        services._tracing.cache_clear()
    assert captured == (["traced"] if traced else [])
