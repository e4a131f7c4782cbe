"""Wheels that serve later Pythons: an abi3 wheel (``py_limited_api``) built for CPython 3.X
runs on every later CPython of its platform that has the GIL, and a ``py3-none`` one on every
Python 3. As cibuildwheel does, such a wheel is built once per image: a later target it covers
is not built (it is tested with that wheel instead), and never overwrites it.

Targets build in parallel, so a covered target may have started before the wheel that covers
it exists. ``Coverage`` decides in each image's target order, as cibuildwheel's one-by-one
build would: a target is settled once every earlier target of its image is; then it is covered
by the first earlier wheel that fits it, or its own wheel is kept. The result is the same
whichever target finishes first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ._model import Target

__all__ = ["Coverage", "covering_wheel", "covers"]


def covers(wheel_name: str, target: Target) -> bool:
    """Whether a wheel built for an earlier target of the same image serves ``target``."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel_name)
    except InvalidWheelFilename:
        return False
    minor = int(target.python_tag[3:].split("_")[0] or 0)  # cp313, pp311, gp313_253: 13, 11, 13
    for tag in tags:
        since = tag.interpreter[3:]  # cp312 (abi3), py312 or py3 (none): 12 or ""
        if tag.abi == "abi3":
            serves = (
                target.implementation == "cpython"
                and not target.free_threaded
                and tag.interpreter.startswith("cp3")
                and int(since or 0) <= minor
            )
        elif tag.abi == "none":
            serves = tag.interpreter.startswith("py3") and int(since or 0) <= minor
        else:
            serves = False
        if serves and (
            tag.platform == "any"
            or (tag.platform.startswith(target.libc) and tag.platform.endswith("_" + target.arch))
        ):
            return True
    return False


def covering_wheel(wheels: Sequence[Path], target: Target) -> Path | None:
    """The first of ``wheels`` that serves ``target``."""
    return next((w for w in wheels if covers(w.name, target)), None)


class Coverage:
    """Which targets an earlier wheel of their image covers, decided in target order."""

    def __init__(
        self,
        targets: Sequence[Target],
        group: Callable[[Target], object],
        done: Mapping[str, Path | None] | None = None,
    ) -> None:
        """``targets``: every target of the run, in order; ``group``: what makes targets share
        their wheels (their image); ``done``: targets with a wheel already (up to date)."""
        self._groups: dict[object, list[Target]] = {}
        for target in targets:
            self._groups.setdefault(group(target), []).append(target)
        self._finished: dict[str, Path | None] = dict(done or {})
        self._kept: dict[str, Path | None] = {}  # settled: the wheel that stays (or None)
        self.covered: dict[str, Path] = {}  # settled as covered: by which wheel

    def finished(self, identifier: str, wheel: Path | None) -> None:
        """A target ended: with its wheel, or without one (failed, cancelled)."""
        self._finished[identifier] = wheel

    def decided(self, identifier: str) -> bool:
        """Whether every earlier target of the image is settled: whether ``identifier`` is
        covered is known (it is in ``covered`` if it is)."""
        for targets in self._groups.values():
            for target in targets:
                if target.identifier == identifier:
                    return True
                if target.identifier not in self._kept and target.identifier not in self.covered:
                    break
        return False

    def settle(self) -> list[tuple[Target, Path]]:
        """The targets that are now known to be covered, each with the wheel that covers it."""
        found: list[tuple[Target, Path]] = []
        for targets in self._groups.values():
            kept: list[Path] = []
            for target in targets:
                ident = target.identifier
                if ident in self.covered:
                    continue
                if ident in self._kept:
                    wheel = self._kept[ident]
                    kept += [wheel] if wheel is not None else []
                    continue
                wheel = covering_wheel(kept, target)
                if wheel is not None:
                    self.covered[ident] = wheel
                    found.append((target, wheel))
                    continue
                if ident not in self._finished:
                    break  # later targets wait for this one
                own = self._kept[ident] = self._finished[ident]
                kept += [own] if own is not None else []
        return found
