"""The handler's cold import on the layer as built, against a floor measured in the same run.

The layer is installed the way `sam build` builds it (layers/core/requirements.txt, runtime packages
only) for this machine's platform, with the package beside it and bytecode compiled, so imports
read .pyc files as Lambda's do. The floor is what any Powertools handler pays: boto3, Powertools
Logger and Metrics, pydantic, and one client created.
"""

import compileall
import hashlib
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = ROOT / "layers" / "core"
BUILD = ROOT / "build" / "bench-layer"
PAIRS = 9

_TIMED = "import time;t=time.perf_counter();{body};print((time.perf_counter()-t)*1000)"
HANDLER = (
    "import importlib.util;"
    "s=importlib.util.spec_from_file_location('app','functions/audit_events/app.py');"
    "s.loader.exec_module(importlib.util.module_from_spec(s))"
)
FLOOR = (
    "import boto3,pydantic;"
    "from aws_lambda_powertools import Logger,Metrics;"
    "Logger(service='s');Metrics(namespace='n',service='s');"
    "boto3.session.Session(region_name='us-east-1').client('stepfunctions')"
)


def built_layer() -> Path:
    """The layer's site directory, rebuilt when the requirements or the package change."""
    requirements = LAYER_SOURCE / "requirements.txt"
    package = LAYER_SOURCE / "audit_remediator"
    digest = hashlib.sha256(requirements.read_bytes())
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.read_bytes())
    target = BUILD / digest.hexdigest()[:16]
    if not (target / ".complete").exists():
        shutil.rmtree(BUILD, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--require-hashes", "--target", str(target), "-r", str(requirements)],
            check=True,
        )  # fmt: skip
        shutil.copytree(package, target / "audit_remediator", ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(target, quiet=1)
        (target / ".complete").touch()
    return target


def _once(code: str, layer: Path) -> float:
    output = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(layer), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    ).stdout
    return float(output.strip().splitlines()[-1])


def measure() -> dict[str, float]:
    """Handler and floor in turn (pairs), so a machine that slows down affects both alike."""
    layer = built_layer()
    _once(HANDLER, layer)
    pairs = [(_once(HANDLER, layer), _once(FLOOR, layer)) for _ in range(PAIRS)]
    return {
        "handler_cold_import_ms": round(statistics.median(h for h, _ in pairs), 1),
        "floor_cold_import_ms": round(statistics.median(f for _, f in pairs), 1),
        "handler_cold_import_ratio_to_floor": round(statistics.median(h / f for h, f in pairs), 2),
    }
