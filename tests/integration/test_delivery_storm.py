"""Asynchronous deliveries under heavy throttling: every audit is executed once or kept, none lost."""

from __future__ import annotations

from sandbox import Sandbox
from sandbox.load import delivery_storm
from tests.conftest import ROOT


def test_twice_delivered_audits_under_throttling_are_executed_once_or_kept() -> None:
    # Given the stack, with 80% of StartExecution and idempotency PutItem calls throttled
    with Sandbox(time_scale=0.001) as sb:
        stack = sb.deploy(ROOT / "template.yaml", parameters={"RemediationMode": "DryRun"})

        # When 20 distinct audit notifications are each delivered twice, asynchronously
        result = delivery_storm(sb, stack, audits=20)

    # Then each audit has at most one execution, and every audit has one or sits in the on-failure queue
    assert result.throttled_calls > 0
    assert result.executions_per_audit_max == 1
    assert result.lost == 0
    assert result.executed + result.in_failure_queue - result.executed_and_in_failure_queue == 20
    assert result.kept_after_retries + result.kept_too_old >= result.in_failure_queue
