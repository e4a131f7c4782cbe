"""Events the library emits; front ends (the CLI) decide how to show them.

An event is a kind, a message, the target it concerns (if any) and, for the kinds that carry
more, a typed payload (``data``): ``step`` -> :class:`Step`, ``target-done`` ->
:class:`TargetDone`, ``summary`` -> :class:`Summary`, and the ``info`` event that starts the
builds -> :class:`BuildStarted` (other events have none).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from ._logs import Masker
from ._model import RunResult

__all__ = [
    "BuildStarted",
    "Emitter",
    "Event",
    "EventKind",
    "Listener",
    "Payload",
    "Step",
    "Summary",
    "TargetDone",
]

EventKind = Literal[
    "info",  # general progress of the run (data: BuildStarted when the builds start, else None)
    "warning",  # something the user should know; the run goes on
    "step",  # a target (or the run, target None) entered a step (data: Step)
    "output",  # a line of a target's build output (shown in verbose mode)
    "target-done",  # a target finished (data: TargetDone)
    "summary",  # the run finished (data: Summary)
]


@dataclass(frozen=True)
class Step:
    step: str  # e.g. start, venv, build, repair, test; prepare for the prepared environment


@dataclass(frozen=True)
class TargetDone:
    status: str  # built | failed | cancelled | up-to-date
    seconds: float
    log: str | None  # the target's log file
    error: str | None  # why it failed


@dataclass(frozen=True)
class BuildStarted:
    run_id: str
    log_dir: str
    targets: tuple[str, ...]  # the identifiers about to build


@dataclass(frozen=True)
class Summary:
    result: RunResult


Payload = Step | TargetDone | BuildStarted | Summary

_PAYLOADS: dict[str, tuple[type[Payload], ...]] = {
    "info": (BuildStarted,),
    "step": (Step,),
    "target-done": (TargetDone,),
    "summary": (Summary,),
}


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    target: str | None = None
    data: Payload | None = None

    def __post_init__(self) -> None:
        if self.data is not None and not isinstance(self.data, _PAYLOADS.get(self.kind, ())):
            raise TypeError(f"a {self.kind!r} event cannot carry {type(self.data).__name__}")


Listener = Callable[[Event], None]


def _masked(data: Payload | None, hide: Masker) -> Payload | None:
    """``data`` with every string field masked (the others, e.g. a RunResult, as they are)."""
    if data is None:
        return None
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    texts: dict[str, Any] = {k: hide(v) for k, v in values.items() if isinstance(v, str)}
    return replace(data, **texts)


class Emitter:
    """Thread-safe fan-out of events to a listener (one event at a time).

    Every event's text (its message and its payload's string fields, e.g. a target's error)
    goes through ``masker`` first: the one place where front ends are kept from showing secret
    values.
    """

    def __init__(self, listener: Listener | None = None, masker: Masker | None = None) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self.masker = masker or Masker()

    def emit(
        self,
        kind: EventKind,
        message: str,
        *,
        target: str | None = None,
        data: Payload | None = None,
    ) -> None:
        self.send(Event(kind, message, target, data))

    def send(self, event: Event) -> None:
        if self._listener is None:
            return
        hide = self.masker
        event = replace(event, message=hide(event.message), data=_masked(event.data, hide))
        with self._lock:
            self._listener(event)

    def info(self, message: str, *, data: BuildStarted | None = None) -> None:
        self.send(Event("info", message, None, data))

    def warning(self, message: str, *, target: str | None = None) -> None:
        self.send(Event("warning", message, target))
