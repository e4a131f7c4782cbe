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


def _sha256(target: dict[str, Any]) -> str | None:
    wheel = target.get("wheel")
    return str(wheel["sha256"]) if isinstance(wheel, dict) and wheel.get("sha256") else None


def _one(values: set[Any]) -> Any:
    """The value the reports share, else all of them in order (None last)."""
    ordered = sorted(values, key=lambda v: (v is None, 0 if v is None else v))
    return ordered[0] if len(ordered) == 1 else ordered


def merge_reports(reports: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One report with every target of ``reports``.

    Each runner of a matrix builds its own ``--only`` target and keeps its report; merging
    them gives the report of the whole release (``ok`` only when every target is). A target
    that two runners built is kept once when their wheels have the same sha256 (the others
    are listed in its ``also_in``), and once per runner, with a warning in ``warnings``, when
    they differ; a target found twice without a wheel in both is an error.
    """
    if not reports:
        raise ConfigError("merge needs at least one report")
    seen: dict[str, dict[str, Any]] = {}
    targets: list[dict[str, Any]] = []
    warnings: list[str] = []
    for path, data in reports:
        for target in data.get("targets", []):
            ident = str(target.get("identifier"))
            entry = dict(target, report=str(path))
            first = seen.get(ident)
            if first is None:
                seen[ident] = entry
            else:
                mine, theirs = _sha256(entry), _sha256(first)
                if mine is None or theirs is None:
                    raise ConfigError(
                        f"{path}: target {ident} is also in {first['report']}",
                        tip="merge the reports of different targets (one --only per runner)",
                    )
                if mine == theirs:
                    first.setdefault("also_in", []).append(str(path))
                    continue
                warnings.append(
                    f"{ident} was built twice with different wheels: sha256 {theirs} in "
                    f"{first['report']}, {mine} in {path}"
                )
            targets.append(entry)
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
        "source_date_epoch": _one({data.get("source_date_epoch") for _, data in reports}),
        "ok": all(bool(data.get("ok")) for _, data in reports),
        "targets": sorted(targets, key=lambda t: str(t.get("identifier"))),
        "merged_from": [str(path) for path, _ in reports],
        "warnings": warnings,
    }
