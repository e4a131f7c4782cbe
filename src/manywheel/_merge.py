"""Scale-out helpers: a CI matrix from a plan, and one report from the reports of many runners."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from ._model import Plan
from ._report import REPORT_FORMAT
from ._version import __version__

__all__ = ["github_matrix", "merge_reports"]


def github_matrix(plan: Plan) -> dict[str, list[dict[str, str]]]:
    """``{"include": [...]}`` for ``strategy.matrix``: one entry per target, for ``--only``,
    with the image it builds in and its platform (a job per architecture can pick a runner)."""
    return {
        "include": [
            {
                "only": t.identifier,
                "python": t.version,
                "image": plan.image_for(t).image,
                "platform": t.platform,
                "arch": t.arch,
            }
            for t in plan.targets
        ]
    }


def merge_reports(reports: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One report with every target of ``reports``; a target found twice is an error.

    Each runner of a matrix builds its own ``--only`` target and keeps its report; merging
    them gives the report of the whole release (``ok`` only when every target is).
    """
    if not reports:
        raise ConfigError("merge needs at least one report")
    seen: dict[str, Path] = {}
    targets: list[dict[str, Any]] = []
    for path, data in reports:
        for target in data.get("targets", []):
            ident = str(target.get("identifier"))
            if ident in seen:
                raise ConfigError(
                    f"{path}: target {ident} is also in {seen[ident]}",
                    tip="merge the reports of different targets (one --only per runner)",
                )
            seen[ident] = path
            targets.append(dict(target, report=str(path)))
    images = sorted(
        {
            str(image)
            for _, data in reports
            for image in (
                data["image"] if isinstance(data.get("image"), list) else [data.get("image")]
            )
        }
    )
    every: dict[tuple[str, str], dict[str, Any]] = {}  # each image of the matrix once
    for _, data in reports:
        for image in data.get("images") or []:
            if isinstance(image, dict):
                every.setdefault((str(image.get("image")), str(image.get("platform"))), image)
    return {
        "format": REPORT_FORMAT,
        "manywheel": __version__,
        "run_id": "merged:" + ",".join(str(data.get("run_id")) for _, data in reports),
        "image": images[0] if len(images) == 1 else images,
        "image_id": None,
        "images": list(every.values()),
        "output_dir": None,
        "seconds": round(max(float(data.get("seconds") or 0) for _, data in reports), 2),
        "ok": all(bool(data.get("ok")) for _, data in reports),
        "targets": sorted(targets, key=lambda t: str(t.get("identifier"))),
        "merged_from": [str(path) for path, _ in reports],
    }
