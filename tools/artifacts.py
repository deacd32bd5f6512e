"""Sizes of what `sam build` produced, the zip files Lambda would receive, and a check of the built layer.

`python -m tools.artifacts sizes` prints each artefact's unpacked and zipped size; `python -m tools.artifacts zip`
also writes them to build/package/<LogicalId>.zip. Both fail when the function and its layers together exceed
Lambda's 250 MB unpacked limit. `python -m tools.artifacts check` fails when the core layer's distributions do
not satisfy each other (tools.layer_check), then imports boto3, botocore and aws_xray_sdk from it.
"""

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
PACKAGE_DIR = ROOT / "build" / "package"
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
EPOCH_1980 = (1980, 1, 1, 0, 0, 0)


def _files(artifact: Path) -> list[Path]:
    return sorted(
        path
        for path in artifact.rglob("*")
        if path.is_file() and "__pycache__" not in path.relative_to(artifact).parts
    )


def zip_bytes(artifact: Path) -> bytes:
    """A reproducible zip: sorted entries, fixed timestamps, so equal inputs give equal packages."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(artifact):
            info = zipfile.ZipInfo(path.relative_to(artifact).as_posix(), date_time=EPOCH_1980)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _human(size: int) -> str:
    return f"{size / 1024:8.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:8.2f} MB"


def report(write_zips: bool) -> int:
    artifacts = sorted(path for path in BUILD_DIR.iterdir() if path.is_dir()) if BUILD_DIR.is_dir() else []
    if not artifacts:
        print(f"no artefacts under {BUILD_DIR}: run `make build` first", file=sys.stderr)
        return 1
    if write_zips:
        PACKAGE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"{'artefact':<28}{'files':>7}{'unpacked':>14}{'zipped':>14}")
    total_unpacked = 0
    for artifact in artifacts:
        files = _files(artifact)
        unpacked = sum(path.stat().st_size for path in files)
        packed = zip_bytes(artifact)
        total_unpacked += unpacked
        print(f"{artifact.name:<28}{len(files):>7}{_human(unpacked):>14}{_human(len(packed)):>14}")
        if write_zips:
            (PACKAGE_DIR / f"{artifact.name}.zip").write_bytes(packed)
    print(f"{'function + layers':<28}{'':>7}{_human(total_unpacked):>14}   (Lambda limit 250 MB unpacked)")
    if write_zips:
        print(f"zip files written to {PACKAGE_DIR.relative_to(ROOT)}/")
    if total_unpacked > UNZIPPED_LIMIT_BYTES:
        print("the function and its layers exceed Lambda's unpacked size limit", file=sys.stderr)
        return 1
    return 0


def check_layer() -> int:
    from tools.layer_check import imported_from_layer, layer_problems, project_requirements

    layer = BUILD_DIR / "CoreLayer" / "python"
    if not layer.is_dir():
        print(f"no built layer at {layer}: run `make build` first", file=sys.stderr)
        return 1
    problems = layer_problems(layer, project_requirements())
    for problem in problems:
        print(f"CoreLayer: {problem}", file=sys.stderr)
    if problems:
        return 1
    try:
        imported = imported_from_layer(layer)
    except (OSError, RuntimeError) as error:
        print(f"CoreLayer: {error}", file=sys.stderr)
        return 1
    print(f"CoreLayer: every requirement is met inside the layer; {imported}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sizes", "zip", "check"])
    arguments = parser.parse_args(argv)
    if arguments.command == "check":
        return check_layer()
    return report(write_zips=arguments.command == "zip")


if __name__ == "__main__":
    raise SystemExit(main())
