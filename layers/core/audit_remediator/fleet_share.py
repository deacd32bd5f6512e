"""The share of the fleet in quarantine, measured once a day by the reconciliation sweep: the things in the
stack's quarantine group and the things of the account and Region, both counted from IoT page by page
(ListThings and ListThingsInThingGroup, 250 a page), sent as `QuarantinedDevices` and `FleetDevices`; the
dashboard divides them. A count that cannot be read is reported and sends nothing, never failing the sweep.
"""

from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from audit_remediator.errors import RemediatorError
from audit_remediator.observability import logger, metrics


class FleetCounts(Protocol):
    def fleet_size(self) -> int: ...

    def group_size(self, group_name: str) -> int: ...


@dataclass(frozen=True)
class QuarantineShare:
    group_name: str
    counts: FleetCounts


def measure_quarantine(share: QuarantineShare) -> dict[str, Any]:
    try:
        quarantined = share.counts.group_size(share.group_name)
        fleet = share.counts.fleet_size()
    except RemediatorError as error:
        logger.exception("the share of the fleet in quarantine could not be counted")
        return {"group": share.group_name, "error": str(error)}
    metrics.add_metric(name="QuarantinedDevices", unit=MetricUnit.Count, value=quarantined)
    metrics.add_metric(name="FleetDevices", unit=MetricUnit.Count, value=fleet)
    return {"group": share.group_name, "quarantined": quarantined, "fleet": fleet}
