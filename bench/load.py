"""A delivery storm at scale (sandbox.load): 1,000 distinct audit notifications, each delivered twice
asynchronously while 80% of StartExecution and idempotency PutItem calls are throttled.
Goal: no audit lost (each executed exactly once or kept in the on-failure queue).

Sandbox time runs 100x faster here: the function's MaximumEventAgeInSeconds (6 h) is then 216 s of real
time, longer than the storm takes to drain, so what reaches the queue is what Lambda's retries gave up on
(the counts say which: keptAfterRetries, keptTooOld)."""

from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.load import delivery_storm

AUDITS = 1_000
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def run() -> dict[str, Any]:
    with Sandbox(time_scale=0.01) as sb:
        stack = sb.deploy(TEMPLATE, parameters={"RemediationMode": "DryRun"})
        result = delivery_storm(sb, stack, audits=AUDITS)
    return {"delivery_storm": result.as_dict(), "delivery_storm_lost": result.lost}
