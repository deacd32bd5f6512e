"""The verification's metrics as the dashboard reads them: time to remediate per check, and a resource found
again after an earlier audit verified it remediated counted as recurring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.workflow import Workflow, audit_plan, task

EXPIRING = "DEVICE_CERTIFICATE_EXPIRING_CHECK"


def emf(out: str, name: str) -> list[dict[str, Any]]:
    return [d for d in (json.loads(line) for line in out.splitlines() if '"_aws"' in line) if name in d]


def test_time_to_remediate_and_recurrence_are_emitted_by_verification(
    wf: Workflow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a device whose certificate two audits in turn find and deactivate
    device = wf.device("MetricsRecurring")
    capsys.readouterr()
    outputs = []
    recurring = []
    for _ in range(2):
        audit = wf.seed_audit({EXPIRING: [device]})
        planned = task(
            {"findingIds": audit.ids(EXPIRING)}, {EXPIRING: [wf.action("DeactivateDeviceCertificateAction")]}
        )
        result = wf.run(audit_plan(audit.task_id, planned))
        assert result.status == "SUCCEEDED", (result.get("error"), result.get("cause"))
        outputs.append(capsys.readouterr().out)
        recurring.append(result.output_json["tasks"][0]["verification"]["recurring"])

    # Then each verification reports its finding checked, and only the second one as recurring
    first, second = (emf(out, "FindingsChecked") for out in outputs)
    assert [(d["FindingsChecked"], d["RecurringFindings"]) for d in first] == [([1.0], [0.0])]
    assert [(d["FindingsChecked"], d["RecurringFindings"]) for d in second] == [([1.0], [1.0])]
    # ... as the task's verification totals say
    assert recurring == [0, 1]
    # ... and each run the time from the finding to its verification, under its check
    for out in outputs:
        [duration] = emf(out, "TimeToRemediate")
        assert duration["check"] == EXPIRING
        assert duration["service"] == "iot-audit-remediator"
        [seconds] = duration["TimeToRemediate"]
        # from IoT's finding time to the verification, both on the sandbox's clock
        assert seconds > 0
        directive = duration["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "IoTAuditRemediator"
        assert ["check", "service"] in [sorted(d) for d in directive["Dimensions"]]
