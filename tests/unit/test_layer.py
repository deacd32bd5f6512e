"""The core layer ships boto3 and botocore as a matched pair, and the built layer satisfies itself."""

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT
from tools.layer_check import layer_problems

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", re.MULTILINE)


def layer_pins() -> dict[str, str]:
    text = (ROOT / "layers" / "core" / "requirements.txt").read_text()
    return {name.lower(): version for name, version in _PIN.findall(text)}


def test_the_layer_ships_boto3_with_the_botocore_it_ships() -> None:
    # Given the layer's pins: botocore comes in through aws-xray-sdk and shadows the runtime's own
    pins = layer_pins()
    assert "botocore" in pins
    # Then boto3 comes with it, and its own botocore range admits the pinned botocore
    assert "boto3" in pins, "botocore without boto3 pairs the runtime's boto3 with a foreign botocore"
    assert importlib.metadata.version("boto3") == pins["boto3"], (
        "the environment's boto3 is not the locked one"
    )
    botocore = next(
        Requirement(text)
        for text in importlib.metadata.requires("boto3") or []
        if text.startswith("botocore")
    )
    assert botocore.specifier.contains(Version(pins["botocore"]))


def dist(
    site: Path, name: str, version: str, requires: tuple[str, ...] = (), tag: str = "py3-none-any"
) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {tag}\n")


def test_a_layer_with_botocore_alone_is_refused(tmp_path: Path) -> None:
    dist(tmp_path, "aws_xray_sdk", "2.15.0", ("botocore>=1.11.3", "wrapt"))
    dist(tmp_path, "botocore", "1.43.127")
    dist(tmp_path, "wrapt", "2.5.2", tag="cp312-cp312-manylinux_2_17_aarch64")
    problems = layer_problems(tmp_path, [Requirement("aws-xray-sdk")])
    assert problems == ["the layer holds botocore without boto3: ship both (matched) or neither"]


@pytest.mark.parametrize(
    ("botocore_version", "expected"),
    [
        ("1.43.127", []),
        ("1.44.0", ["boto3 1.43.108 requires botocore<1.44.0,>=1.43.108, the layer holds botocore 1.44.0"]),
    ],
)
def test_boto3_and_botocore_must_match(tmp_path: Path, botocore_version: str, expected: list[str]) -> None:
    dist(tmp_path, "boto3", "1.43.108", ("botocore<1.44.0,>=1.43.108", 'awscrt==0.31.2; extra == "crt"'))
    dist(tmp_path, "botocore", botocore_version)
    assert layer_problems(tmp_path, [Requirement("boto3")]) == expected


def test_requirements_are_read_for_lambdas_platform_and_the_requested_extras(tmp_path: Path) -> None:
    # Given a package whose extra and a Windows-only requirement the layer does not hold
    dist(tmp_path, "tool", "1.0", ('helper; extra == "fast"', 'winonly; sys_platform == "win32"'))
    # Then only a requested extra is required, and markers are read for linux
    assert layer_problems(tmp_path, [Requirement("tool")]) == []
    assert layer_problems(tmp_path, [Requirement("tool[fast]")]) == [
        'tool 1.0 requires helper; extra == "fast", which the layer does not hold'
    ]


def test_a_wheel_built_for_another_platform_is_refused(tmp_path: Path) -> None:
    dist(tmp_path, "fastthing", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    assert layer_problems(tmp_path, [Requirement("fastthing")]) == [
        "fastthing 1.0 is built for cp312-cp312-manylinux_2_17_x86_64, not CPython 3.12 on linux aarch64"
    ]
