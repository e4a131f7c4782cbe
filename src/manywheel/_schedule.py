"""The order targets start in: longest expected first, so that a run ends as early as the
cores allow (longest-processing-time order). Emulated targets take many times longer than
native ones; the previous run's durations, when its report has them, say by how much. With
several builders, the same order gives each target its builder (``assign``)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._builders import BuilderFacts, Way
from ._builders.fleet import WAYS
from ._errors import EngineError
from ._model import Assignment, BuilderShare, Target
from ._report import load_report

__all__ = [
    "EMULATION_FACTOR",
    "assign",
    "core_budget",
    "expected_seconds",
    "longest_first",
    "previous_durations",
    "previously_covered",
]

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


def expected_seconds(
    targets: Sequence[Target], history: Mapping[str, float], emulated: Callable[[Target], bool]
) -> dict[str, float]:
    """How long each target is expected to take, by identifier: as last time, else the
    median of the native ones known (1 without any), times EMULATION_FACTOR if emulated."""
    native = [history[t.identifier] for t in targets if t.identifier in history and not emulated(t)]
    base = statistics.median(native) if native else 1.0
    return {
        t.identifier: history.get(t.identifier, base * (EMULATION_FACTOR if emulated(t) else 1.0))
        for t in targets
    }


def longest_first(
    targets: Sequence[Target], history: Mapping[str, float], emulated: Callable[[Target], bool]
) -> list[Target]:
    """``targets`` ordered by expected duration, longest first (ties keep their order)."""
    expected = expected_seconds(targets, history, emulated)
    return sorted(targets, key=lambda t: -expected[t.identifier])


def core_budget(cores: int, at_once: int) -> int:
    """The cores each of ``at_once`` targets sharing ``cores`` compiles with (make -jN)."""
    return max(1, cores // max(1, at_once))


def assign(
    targets: Sequence[Target],
    builders: Sequence[BuilderFacts],
    history: Mapping[str, float],
    at_once: Callable[[int, int], int],
) -> Assignment:
    """Give each target a builder: one that runs its architecture natively when there is one,
    else one known to emulate it, else one whose emulation is not known until tried (docker
    elsewhere). Longest expected first, each to the able builder with the least expected work
    per core once it has it (ties: the one with fewer targets, then the first listed), so the
    targets spread by cores and end together. ``at_once(targets, cores)``: how many targets a
    builder builds at once (``Options.effective_jobs``); each compiles with its share of the
    cores. EngineError names the targets no builder can run, and what each builder runs."""
    able: dict[str, tuple[Way, list[int]]] = {}
    for t in targets:
        for way in WAYS:
            which = [i for i, b in enumerate(builders) if b.way(t.arch) == way]
            if which:
                able[t.identifier] = (way, which)
                break
    left = [t for t in targets if t.identifier not in able]
    if left:
        raise _nowhere(left, builders)

    def emulated(t: Target) -> bool:
        return able[t.identifier][0] != "native"

    expected = expected_seconds(targets, history, emulated)
    work = [0.0] * len(builders)
    given: list[list[Target]] = [[] for _ in builders]
    for t in longest_first(targets, history, emulated):
        seconds = expected[t.identifier]
        best = min(
            able[t.identifier][1],
            key=lambda i: ((work[i] + seconds) / builders[i].cpus, len(given[i]), i),
        )
        work[best] += seconds
        given[best].append(t)
    return Assignment(tuple(_share(b, given[i], able, at_once) for i, b in enumerate(builders)))


def _share(
    builder: BuilderFacts,
    targets: list[Target],
    able: Mapping[str, tuple[Way, list[int]]],
    at_once: Callable[[int, int], int],
) -> BuilderShare:
    n = at_once(len(targets), builder.cpus) if targets else 0
    return BuilderShare(
        name=builder.name,
        endpoint=builder.builder.endpoint,
        engine=str(builder.builder.engine),
        version=builder.version,
        arch=builder.arch,
        cpus=builder.cpus,
        targets=tuple(t.identifier for t in targets),
        emulated=tuple(t.identifier for t in targets if able[t.identifier][0] != "native"),
        unchecked=tuple(t.identifier for t in targets if able[t.identifier][0] == "unchecked"),
        at_once=n,
        cores_per_target=core_budget(builder.cpus, n) if targets else 0,
    )


def _nowhere(targets: list[Target], builders: Sequence[BuilderFacts]) -> EngineError:
    """The error for targets whose architecture no builder runs, natively or emulated."""
    archs = dict.fromkeys(t.arch for t in targets)
    which = "; ".join(
        ", ".join(t.identifier for t in targets if t.arch == arch) + f" ({arch})" for arch in archs
    )
    return EngineError(
        f"no builder can run {which}: " + "; ".join(_runs(b) for b in builders),
        tip=f"add a builder that is {' or '.join(archs)}, register QEMU for it with the "
        "fix-binary flag on a builder (`manywheel doctor` says how), or skip those targets "
        f'(e.g. skip = "*_{next(iter(archs))}")',
    )


def _runs(builder: BuilderFacts) -> str:
    """What a builder runs, in words."""
    known = builder.emulated
    emulates = "unknown" if known is None else ", ".join(sorted(known)) or "nothing"
    return f"{builder.name} is {builder.arch} and emulates {emulates}"
