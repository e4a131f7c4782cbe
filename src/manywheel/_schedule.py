"""The order targets start in: longest expected first, so that a run ends as early as the
cores allow (longest-processing-time order). Emulated targets take many times longer than
native ones; the previous run's durations, when its report has them, say by how much."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._model import Target
from ._report import load_report

__all__ = ["EMULATION_FACTOR", "longest_first", "previous_durations", "previously_covered"]

# How much longer an emulated target is expected to take than a native one, without history
# (measured here: a cold C-extension target ~3 s native, over a minute under QEMU).
EMULATION_FACTOR = 20.0


def previous_durations(log_root: Path) -> dict[str, float]:
    """Seconds each target took in the last run whose report is in ``log_root`` (built ones)."""
    try:
        data = load_report(log_root / "latest" / "report.json")
    except (OSError, ValueError):
        return {}
    found: dict[str, float] = {}
    targets = data.get("targets")
    for entry in targets if isinstance(targets, list) else []:
        if not isinstance(entry, dict) or entry.get("status") != "built":
            continue
        seconds, ident = entry.get("seconds"), entry.get("identifier")
        if isinstance(ident, str) and isinstance(seconds, (int, float)) and seconds > 0:
            found[ident] = float(seconds)
    return found


def previously_covered(log_root: Path) -> set[str]:
    """The targets an earlier target's wheel covered in the last run (abi3): they are not
    built on speculation this time, but once it is known whether a wheel covers them again."""
    try:
        data = load_report(log_root / "latest" / "report.json")
    except (OSError, ValueError):
        return set()
    targets = data.get("targets")
    return {
        entry["identifier"]
        for entry in (targets if isinstance(targets, list) else [])
        if isinstance(entry, dict)
        and entry.get("status") == "covered"
        and isinstance(entry.get("identifier"), str)
    }


def longest_first(
    targets: Sequence[Target], history: Mapping[str, float], emulated: Callable[[Target], bool]
) -> list[Target]:
    """``targets`` ordered by expected duration, longest first (ties keep their order)."""
    native = [history[t.identifier] for t in targets if t.identifier in history and not emulated(t)]
    base = statistics.median(native) if native else 1.0

    def expected(t: Target) -> float:
        if t.identifier in history:
            return history[t.identifier]
        return base * (EMULATION_FACTOR if emulated(t) else 1.0)

    return sorted(targets, key=lambda t: -expected(t))
