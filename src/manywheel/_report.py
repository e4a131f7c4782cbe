"""The JSON report of a run (kept beside the logs, never in the output folder)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from ._model import RunResult, TargetResult
from ._version import __version__

__all__ = ["REPORT_FORMAT", "grafted_libraries", "load_report", "report_data", "write_report"]

REPORT_FORMAT = 1


def grafted_libraries(wheel: Path) -> list[str]:
    """Shared libraries auditwheel copied into the wheel (the ``<pkg>.libs/`` folders)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return sorted(
                n.split("/", 1)[1] for n in zf.namelist()
                if n.count("/") == 1 and n.split("/")[0].endswith(".libs") and ".so" in n
            )  # fmt: skip
    except (OSError, zipfile.BadZipFile):
        return []


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _target(result: TargetResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "identifier": result.target.identifier,
        "python": result.target.version,
        "platform": result.target.platform,
        "image": result.target.image or None,
        "status": result.status,
        "seconds": result.seconds,
        "steps": result.steps,
        "log": str(result.log) if result.log else None,
        "error": result.error,
        "covered_by": result.covered_by,  # the wheel of an earlier target that serves this one
        "builder": result.builder,  # with builders: the one that built it (None: this machine)
        "retried": result.retried,  # with builders: why it moved to that one, if it did
        "wheel": None,
    }
    wheel = result.wheels[0] if result.wheels else None
    if wheel is not None and wheel.is_file():
        _, _, _, tags = parse_wheel_filename(wheel.name)
        entry["wheel"] = {
            "file": wheel.name,
            "path": str(wheel),
            "tags": sorted(str(t) for t in tags),
            "sha256": _sha256(wheel),
            "size": wheel.stat().st_size,
            "grafted": grafted_libraries(wheel),
        }
    return entry


def report_data(result: RunResult) -> dict[str, Any]:
    images = [
        {"image": im.image, "image_id": im.image_id, "platform": im.platform, "key": im.key}
        for im in result.plan.images
    ]
    return {
        "format": REPORT_FORMAT,
        "manywheel": __version__,
        "run_id": result.run_id,
        # one image: its reference and id, as before the matrix; several: lists
        "image": images[0]["image"] if len(images) == 1 else [i["image"] for i in images],
        "image_id": images[0]["image_id"] if len(images) == 1 else None,
        "images": images,
        "output_dir": str(result.output_dir) if result.output_dir else None,
        "seconds": result.seconds,
        "source_date_epoch": result.source_date_epoch,
        "ok": result.ok,
        "targets": [_target(r) for r in result.results],
    }


def write_report(data: dict[str, Any], path: Path) -> Path:
    """Write atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path


def load_report(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path} is not a manywheel report (format {REPORT_FORMAT})")
    return data
