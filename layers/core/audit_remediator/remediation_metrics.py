"""What the dashboard shows of each verification page, as EMF metrics in the service's namespace:

- `TimeToRemediate` (seconds, dimension `check`): from the time IoT found a finding (`findingTime` of its
  pre-state record) to the verification that found its resource remediated; verified findings only;
- `FindingsChecked` and `RecurringFindings` (counts): every finding verification checked, and those whose
  resource an earlier audit had already remediated and verified (a verified pre-state record of another
  audit, through the ByResource index). The dashboard's recurrence rate is their ratio.

The metrics are a side channel: a lookup that fails is logged, left out of both counts and counted as
`RecurrenceUnknown` (and in the task's verification totals), never a reason to fail the verification itself.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from audit_remediator.errors import ResourceStateError
from audit_remediator.impact import attempt_resource
from audit_remediator.observability import METRICS_NAMESPACE, SERVICE, logger
from audit_remediator.resource_state import StateRecord


class EarlierRemediations(Protocol):
    def verified_elsewhere(self, resource_key: str, audit_task_id: str) -> bool:
        """Whether a pre-state record of this resource from another audit was verified."""
        ...


def _seconds_since(moment: str, now: datetime) -> float | None:
    try:
        found = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (now - found).total_seconds())


class VerificationMetrics:
    """Collects one page's metrics; `flush` writes them (one EMF document per check and one for the counts)."""

    def __init__(
        self,
        earlier: EarlierRemediations,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics_factory: Callable[[], EphemeralMetrics] = lambda: EphemeralMetrics(
            namespace=METRICS_NAMESPACE, service=SERVICE
        ),
    ) -> None:
        self._earlier = earlier
        self._clock = clock
        self._factory = metrics_factory
        self._durations: dict[str, list[float]] = defaultdict(list)
        self._checked = 0
        self._recurring = 0
        self._unknown = 0

    def checked(self, audit_task_id: str, record: StateRecord, result: str) -> bool | None:
        """Counts the finding; whether its resource was remediated and verified by an earlier audit (None:
        that could not be read)."""
        recurring: bool | None
        try:
            recurring = self._earlier.verified_elsewhere(
                attempt_resource(record.resource_identifier), audit_task_id
            )
        except ResourceStateError:
            logger.warning("recurrence not known: left out of the recurrence rate", exc_info=True)
            recurring = None
            self._unknown += 1
        else:
            self._checked += 1
            self._recurring += recurring
        if result == "verified" and record.finding_time:
            seconds = _seconds_since(record.finding_time, self._clock())
            if seconds is not None:
                self._durations[record.check].append(seconds)
        return recurring

    def flush(self) -> None:
        if self._checked or self._unknown:
            counts = self._factory()
            counts.add_metric(name="FindingsChecked", unit=MetricUnit.Count, value=self._checked)
            counts.add_metric(name="RecurringFindings", unit=MetricUnit.Count, value=self._recurring)
            counts.add_metric(name="RecurrenceUnknown", unit=MetricUnit.Count, value=self._unknown)
            counts.flush_metrics()
        for check, durations in sorted(self._durations.items()):
            per_check = self._factory()
            per_check.add_dimension(name="check", value=check)
            for seconds in durations:
                per_check.add_metric(name="TimeToRemediate", unit=MetricUnit.Seconds, value=seconds)
            per_check.flush_metrics()
        self._durations.clear()
        self._checked = self._recurring = 0
