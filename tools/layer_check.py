"""Does the built layer hold together? pip-check for a directory that Lambda puts on sys.path.

Every distribution's requirements (markers evaluated for Lambda's python3.12 on linux/aarch64) must be met
by the distributions in the layer, the project's own requirements too (pyproject.toml, with their extras);
wheels must be built for that platform; and boto3 and botocore come together or not at all: a layer with
botocore alone pairs the runtime's boto3 with another botocore.
"""

import importlib.metadata
import subprocess
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# Lambda's python3.12 runtime on arm64 (template.yaml: CompatibleArchitectures arm64).
LAMBDA_MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "aarch64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
}
PAIRED = ("boto3", "botocore")


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in ("", *extras))


def _runs_on_lambda(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    return (python in ("py3", "cp312") or (python.startswith("cp3") and abi == "abi3")) and (
        platform == "any" or ("linux" in platform and platform.endswith("aarch64"))
    )


def layer_problems(site: Path, roots: list[Requirement]) -> list[str]:
    found = {
        canonicalize_name(dist.metadata["Name"]): dist
        for dist in importlib.metadata.distributions(path=[str(site)])
    }
    problems: list[str] = []
    wanted: list[tuple[str, Requirement]] = [("the project", root) for root in roots]
    requested_extras: dict[str, set[str]] = {}
    for root in roots:
        requested_extras.setdefault(canonicalize_name(root.name), set()).update(root.extras)
    seen: set[tuple[str, str]] = set()
    while wanted:
        owner, requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if (owner, str(requirement)) in seen:
            continue
        seen.add((owner, str(requirement)))
        dist = found.get(name)
        if dist is None:
            problems.append(f"{owner} requires {requirement}, which the layer does not hold")
            continue
        if not requirement.specifier.contains(Version(dist.version), prereleases=True):
            problems.append(
                f"{owner} requires {requirement}, the layer holds {requirement.name} {dist.version}"
            )
        requested_extras.setdefault(name, set()).update(requirement.extras)
        extras = requested_extras[name]
        for text in dist.requires or []:
            nested = Requirement(text)
            if _applies(nested, extras):
                wanted.append((f"{dist.metadata['Name']} {dist.version}", nested))
    for name, dist in found.items():
        tags = [
            line[5:].strip()
            for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag: ")
        ]
        if tags and not any(_runs_on_lambda(tag) for tag in tags):
            problems.append(
                f"{name} {dist.version} is built for {', '.join(tags)}, not CPython 3.12 on linux aarch64"
            )
    present = [name for name in PAIRED if name in found]
    if len(present) == 1:
        problems.append(
            f"the layer holds {present[0]} without {(set(PAIRED) - set(present)).pop()}: ship both (matched) or neither"
        )
    return problems


def imported_from_layer(site: Path, python: str = "python3.12") -> str:
    """Imports boto3, botocore and aws_xray_sdk from the layer alone in a fresh, isolated interpreter.

    Only pure-Python modules can load here: the layer's extension modules are built for aarch64."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import boto3, botocore, aws_xray_sdk.core;"
        "assert boto3.__file__.startswith(sys.argv[1]) and botocore.__file__.startswith(sys.argv[1]), 'not the layer';"
        "print('boto3', boto3.__version__, 'botocore', botocore.__version__, 'aws_xray_sdk imported')"
    )
    completed = subprocess.run(  # noqa: S603 - a fixed interpreter and code
        [python, "-I", "-c", code, str(site)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing from the layer failed: {completed.stderr.strip()}")
    return completed.stdout.strip()
