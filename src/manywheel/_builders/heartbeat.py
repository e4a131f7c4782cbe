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

import threading
from collections.abc import Callable
from types import TracebackType

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


class Heartbeat:
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
        self.fleet, self.on_lost = fleet, on_lost
        self.interval, self.timeout, self.misses = interval, timeout, misses
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._watch,
                args=(place,),
                name=f"manywheel-heartbeat-{place.name}",
                daemon=True,
            )
            for place in fleet.places.values()
            if not place.local
        ]

    def __enter__(self) -> Heartbeat:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()  # a thread in a call ends with it (bounded by timeout); not waited on

    def _watch(self, place: Place) -> None:
        missed = 0
        while not self._stop.wait(self.interval):
            if place.name in self.fleet.lost:
                return
            why = answers(place, self.timeout)
            if self._stop.is_set():
                return
            missed = 0 if why is None else missed + 1
            if why is not None and missed >= self.misses:
                reason = f"no answer to {missed} pings in a row: {why}"
                if self.fleet.lose(place.name, reason):
                    place.engine.give_up(reason)
                    self.on_lost(place.name, reason)
                return
