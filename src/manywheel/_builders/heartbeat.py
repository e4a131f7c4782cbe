"""A run's watch over its builders elsewhere: one whose engine stops answering is given up.

A builder's daemon that dies closes its connections, and the builds on it fail at once (then
``_run`` retries them elsewhere). A builder cut off by the network does not: an established
connection just goes quiet, and a build's ``exec`` stream would wait on it forever. So while
targets build, each builder other than this machine's engine is asked its ``version`` every
``interval`` seconds (an API ping, answered at once by a busy daemon too); one that misses
``misses`` answers in a row (each bounded by ``timeout``) is lost: the fleet gives it up, its
client processes are stopped (its running builds fail as the engine's fault, and go
elsewhere) and every later call to it fails at once.
"""

from __future__ import annotations

from collections.abc import Callable

from .._engines.watch import Watching, keep_asking
from .._errors import EngineError
from .fleet import Fleet, Place

__all__ = [
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_MISSES",
    "HEARTBEAT_TIMEOUT",
    "Heartbeat",
    "answers",
]

HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TIMEOUT = 10.0
HEARTBEAT_MISSES = 2


def answers(place: Place, timeout: float) -> str | None:
    """None if ``place``'s engine answers ``version`` within ``timeout`` seconds, else why not
    (the engine's last line of output, or its error)."""
    try:
        r = place.engine.call(
            ["version", "--format", "{{.Server.Version}}"], timeout=timeout, check=False
        )
    except EngineError as e:
        return e.message
    if r.returncode == 0:
        return None
    lines = (r.stderr.strip() or r.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit {r.returncode}"


class Heartbeat(Watching):
    """``with Heartbeat(fleet, on_lost):`` watches the fleet's builders other than this
    machine's engine while the block runs; ``on_lost(name, reason)`` is called once for each
    builder it gives up (after the fleet marked it lost and its engine was given up)."""

    def __init__(
        self,
        fleet: Fleet,
        on_lost: Callable[[str, str], None],
        *,
        interval: float = HEARTBEAT_INTERVAL,
        timeout: float = HEARTBEAT_TIMEOUT,
        misses: int = HEARTBEAT_MISSES,
    ) -> None:
        super().__init__()
        self.fleet, self.on_lost = fleet, on_lost
        self.interval, self.timeout, self.misses = interval, timeout, misses
        for place in fleet.places.values():
            if not place.local:
                self.start(self._watch, f"manywheel-heartbeat-{place.name}", place)

    def _watch(self, place: Place) -> None:
        def ask() -> str | None:  # (a builder lost another way is not asked again)
            return None if place.name in self.fleet.lost else answers(place, self.timeout)

        def missed(count: int, why: str) -> bool:
            reason = f"no answer to {count} pings in a row: {why}"
            if self.fleet.lose(place.name, reason):
                place.engine.give_up(reason)
                self.on_lost(place.name, reason)
            return True

        keep_asking(self.stop, self.interval, ask, self.misses, missed)
