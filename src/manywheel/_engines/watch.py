"""A run's watch over an engine that may stop answering while its builds run.

Nothing else bounds a build's ``exec``: a build may be silent for an hour. But an engine can
wedge under it. A builder cut off by the network leaves its connections quiet (the heartbeat,
``_builders.heartbeat``, gives it up). This machine's engine can wedge too: podman's
``run --rm`` client and its own ``container cleanup`` can deadlock on a container's lock
(podman issue 29646), after which every command that needs that lock waits for ever, the
build's exec stream and the run's cleanup included; a frozen docker daemon does the same to
every call. So while targets build, this machine's engine is asked for the run's containers
(``ps``, which reads each one's state under its lock) every ``interval`` seconds. A question
that gets an answer, even an error, means the engine works; ``misses`` in a row that get none
within ``timeout`` each mean it is stuck: ``on_stuck(reason)`` is called (the run ends its
client processes, which releases a lock one of them holds, and retries their targets once),
and the watch goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from .._errors import EngineError
from .protocol import ContainerEngine

__all__ = [
    "STUCK_INTERVAL",
    "STUCK_MISSES",
    "STUCK_TIMEOUT",
    "EngineWatch",
    "Watching",
    "keep_asking",
]

# Under a full load of builds an answer takes a second or two; three minutes of silence is not
# a busy engine.
STUCK_INTERVAL = 15.0
STUCK_TIMEOUT = 60.0
STUCK_MISSES = 3


def keep_asking(
    stop: threading.Event,
    interval: float,
    ask: Callable[[], str | None],
    misses: int,
    missed: Callable[[int, str], bool],
) -> None:
    """Every ``interval`` seconds until ``stop`` is set, ``ask()`` (None: answered, else why
    not); after ``misses`` unanswered in a row, ``missed(count, why)``: True ends the watch,
    False starts the count again."""
    count = 0
    while not stop.wait(interval):
        why = ask()
        if stop.is_set():
            return
        count = 0 if why is None else count + 1
        if why is not None and count >= misses:
            if missed(count, why):
                return
            count = 0


class Watching:
    """Threads that ask while a ``with`` block runs: ``start(target, name, *args)`` adds one
    (started on entry); leaving the block sets ``stop``, which ends them (a question on its way
    ends with its timeout; they are not waited on)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, target: Callable[..., None], name: str, *args: object) -> None:
        self._threads.append(threading.Thread(target=target, args=args, name=name, daemon=True))

    def __enter__(self) -> Watching:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()


class EngineWatch(Watching):
    """``with EngineWatch(engine, label, on_stuck):`` watches ``engine`` while the block
    runs, asking for the containers with ``label``."""

    def __init__(
        self,
        engine: ContainerEngine,
        label: str,
        on_stuck: Callable[[str], None],
        *,
        interval: float = STUCK_INTERVAL,
        timeout: float = STUCK_TIMEOUT,
        misses: int = STUCK_MISSES,
    ) -> None:
        super().__init__()
        self.engine, self.label, self.on_stuck = engine, label, on_stuck
        self.timeout = timeout
        name = f"manywheel-watch-{engine.name}"
        self.start(keep_asking, name, self.stop, interval, self._ask, misses, self._missed)

    def _ask(self) -> str | None:
        args = ["ps", "-a", "--filter", f"label={self.label}", "--format", "{{.Names}}"]
        try:
            self.engine.call(args, timeout=self.timeout, check=False)
        except EngineError as e:
            return e.message
        return None

    def _missed(self, count: int, why: str) -> bool:
        self.on_stuck(f"no answer to {count} questions in a row: {why}")
        return False
