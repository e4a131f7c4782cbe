"""A run's builders, reached: each one's facts and engine, which of them were lost during the
run, and which one takes a target's architecture (first choice, or after a loss)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .._engines.protocol import ContainerEngine
from .._errors import EngineError
from .discovery import BuilderFacts, Runner, Way, discover_builder
from .endpoint import Builder

__all__ = ["Fleet", "Place", "discover_builders"]

# The ways a builder may run a target's architecture, best first (see BuilderFacts.way).
WAYS: tuple[Way, ...] = ("native", "emulated", "unchecked")


def discover_builders(
    builders: Sequence[Builder], runner: Runner, *, environ: Mapping[str, str] | None = None
) -> tuple[list[BuilderFacts], list[tuple[Builder, EngineError]]]:
    """Ask every builder what it is, at once: the facts of those that answered (in the order
    listed) and the error of each that did not."""

    def one(builder: Builder) -> BuilderFacts | EngineError:
        try:
            return discover_builder(builder, runner, environ=environ)
        except EngineError as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(max(1, len(builders))) as pool:
        answers = list(pool.map(one, builders))
    found = [a for a in answers if isinstance(a, BuilderFacts)]
    failed = [(b, a) for b, a in zip(builders, answers, strict=True) if isinstance(a, EngineError)]
    return found, failed


@dataclass(frozen=True)
class Place:
    """One builder of a run: what it is, and the engine every call to it goes through."""

    facts: BuilderFacts
    engine: ContainerEngine

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def local(self) -> bool:
        return self.facts.builder.local


class Fleet:
    """The builders of a run that answered, in the order listed; some may be lost later."""

    def __init__(self, places: Sequence[Place]) -> None:
        self.places = {p.name: p for p in places}
        self.lost: dict[str, str] = {}  # builder -> why it was given up
        self._lock = threading.Lock()

    @property
    def facts(self) -> list[BuilderFacts]:
        return [p.facts for p in self.places.values()]

    def engines(self) -> list[ContainerEngine]:
        return [p.engine for p in self.places.values()]

    def lose(self, name: str, reason: str) -> bool:
        """Give builder ``name`` up (nothing more starts there); False if it already was."""
        with self._lock:
            if name in self.lost:
                return False
            self.lost[name] = reason
            return True

    def best_for(
        self,
        arch: str | None,
        *,
        excluding: Sequence[str | None] = (),
        prefer: Callable[[Place], bool] | None = None,
    ) -> Place | None:
        """The builder that runs ``arch`` best (natively, else known to emulate it, else not
        known until tried), not lost nor in ``excluding``; among equals the first listed
        (``prefer``: those it says yes to first). None: no such builder. ``arch`` None (the
        image's own, not known yet): the first builder for which ``prefer`` says yes, else the
        first."""
        with self._lock:
            gone = set(self.lost) | set(excluding)
        open_ = [p for p in self.places.values() if p.name not in gone]
        if prefer is not None:
            open_.sort(key=lambda p: not prefer(p))
        if arch is None:
            return open_[0] if open_ else None
        for way in WAYS:
            for place in open_:
                if place.facts.way(arch) == way:
                    return place
        return None
