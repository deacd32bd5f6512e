"""Pre-state and verification cost, counted in the sandbox: for one whole-audit task deactivating N device
certificates, the IoT calls ResourceStateFunction makes and the state transitions of its two loops, per
1,000 findings. Goals (stated beside the figures): pre-state at most 1.02 IoT calls per finding (one
DescribeCertificate each, one ListAuditFindings per 250, one DescribeMitigationAction per page) and
verification the same, with at most 10 state transitions per 1,000 findings for each."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sandbox import Sandbox
from sandbox.workflow import PARAMETERS, TEMPLATE, Workflow, audit_plan, task

TIME_SCALE = 0.001
FINDINGS = 1_000
CHECK = "DEVICE_CERTIFICATE_SHARED_CHECK"
GOAL_CALLS_PER_1000 = 1_020
GOAL_TRANSITIONS_PER_1000 = 10
PRESTATE_STATES = ("Record pre-state", "More pre-state to record?")
VERIFICATION_STATES = ("Findings to verify?", "Verify task findings", "More findings to verify?")


def _certificates(wf: Workflow, count: int) -> list[str]:
    """Active device certificates, registered without a CA (fast EC keys instead of IoT's RSA pairs)."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    iot = wf.sb.client("iot")
    ids = []
    with wf.sb.calls.pause():
        for n in range(count):
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench-device-{n}")])
            certificate = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=365))
                .sign(key, hashes.SHA256())
            )
            pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
            ids.append(
                iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")["certificateId"]
            )
    return ids


def _entered(result: Any, names: tuple[str, ...]) -> int:
    return sum(
        1 for event in result.history if event.get("stateEnteredEventDetails", {}).get("name") in names
    )


def run() -> dict[str, Any]:
    with Sandbox(time_scale=TIME_SCALE) as sandbox:
        wf = Workflow(sandbox, sandbox.deploy(TEMPLATE, parameters=PARAMETERS))
        audit = wf.seed_audit({CHECK: [{"deviceCertificateId": c} for c in _certificates(wf, FINDINGS)]})
        planned = task(
            {
                "auditTaskId": audit.task_id,
                "auditCheckToReasonCodeFilter": {CHECK: ["CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"]},
            },
            {CHECK: [wf.action("DeactivateDeviceCertificateAction")]},
        )
        wf.sb.calls.clear()
        started = time.perf_counter()
        result = wf.run(audit_plan(audit.task_id, planned), timeout=1800)
        seconds = time.perf_counter() - started
        role = wf.stack.physical_ids["ResourceStateFunctionRole"]
        calls = list(wf.sb.calls.of("iot"))
        start = next(i for i, c in enumerate(calls) if c.operation == "StartAuditMitigationActionsTask")
        mine = [(i, c.operation) for i, c in enumerate(calls) if role in (c.caller or "")]
        before = Counter(op for i, op in mine if i < start)
        after = Counter(op for i, op in mine if i > start)
        [outcome] = result.output_json["tasks"]
    per_1000 = 1000 / FINDINGS
    return {
        "findings": FINDINGS,
        "prestate_iot_calls_per_1000_findings": round(sum(before.values()) * per_1000),
        "prestate_iot_calls_goal": f"<= {GOAL_CALLS_PER_1000}",
        "prestate_calls": dict(sorted(before.items())),
        "prestate_transitions_per_1000_findings": round(_entered(result, PRESTATE_STATES) * per_1000),
        "verification_iot_calls_per_1000_findings": round(sum(after.values()) * per_1000),
        "verification_iot_calls_goal": f"<= {GOAL_CALLS_PER_1000}",
        "verification_calls": dict(sorted(after.items())),
        "verification_transitions_per_1000_findings": round(_entered(result, VERIFICATION_STATES) * per_1000),
        "transitions_goal": f"<= {GOAL_TRANSITIONS_PER_1000} per loop",
        "verified": outcome.get("verification", {}).get("verified"),
        "execution_seconds": round(seconds, 2),
    }
