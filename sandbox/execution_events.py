"""The event Step Functions sends to EventBridge when a STANDARD execution ends ("Step Functions
Execution Status Change"), which moto does not send."""

from __future__ import annotations

import datetime
import json
import logging
import threading
from typing import Any

import boto3

from sandbox.executions import moto_executions
from sandbox.faults import CallLog
from sandbox.patching import Patch, patch_attribute, restore_patches

LOG = logging.getLogger(__name__)


class ExecutionStatusEvents:
    """Reports the end of the sandbox's own executions while it is open.

    moto's backends are process-wide, so a worker thread of a closed sandbox may finish after the next
    sandbox opened, with the same-named stack; it must not report into that one.
    """

    def __init__(self, *, region: str, account_id: str, calls: CallLog) -> None:
        self.region = region
        self.account_id = account_id
        self._calls = calls
        self._patches: list[Patch] = []
        # Held while an execution's end is reported and while reporting stops.
        self._lock = threading.Lock()
        self._reporting = False

    def install(self) -> None:
        from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

        self._reporting = True
        original = BaseExecutionWorkerCommunication.__dict__["terminated"]
        events = self

        def terminated(communication: Any) -> None:
            original(communication)
            events.report(communication.execution)

        patch_attribute(self._patches, BaseExecutionWorkerCommunication, "terminated", terminated)

    def report(self, execution: Any) -> None:
        with self._lock:
            if not self._reports(execution):
                return
            try:
                with self._calls.pause():
                    put_status_change_event(self.region, execution)
            except Exception:
                LOG.exception("could not send the execution status change event")

    def _reports(self, execution: Any) -> bool:
        return self._reporting and any(
            own is execution for own in moto_executions(self.account_id, self.region)
        )

    def stop_reporting(self) -> None:
        with self._lock:
            self._reporting = False

    def uninstall(self) -> None:
        restore_patches(self._patches)


def _epoch_ms(value: datetime.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def put_status_change_event(region: str, execution: Any) -> None:
    """What Step Functions sends to EventBridge when a STANDARD execution ends."""
    output = execution.output
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date),
        "input": execution.input_data
        if isinstance(execution.input_data, str)
        else json.dumps(execution.input_data),
        "output": None if output is None else output if isinstance(output, str) else json.dumps(output),
        "error": execution.error,
        "cause": execution.cause,
    }
    boto3.client("events", region_name=region).put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [execution.exec_arn],
            }
        ]
    )
