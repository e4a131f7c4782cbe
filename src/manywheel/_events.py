"""Events the library emits; front ends (the CLI) decide how to show them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from ._logs import Masker

__all__ = ["Emitter", "Event", "EventKind", "Listener"]

EventKind = Literal[
    "info",  # general progress of the run
    "warning",  # something the user should know; the run goes on
    "step",  # a target entered a step (data: step)
    "output",  # a line of a target's build output (shown in verbose mode)
    "target-done",  # a target finished (data: status, wheel, seconds, log)
    "summary",  # the run finished (data: results)
]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    target: str | None = None
    data: dict[str, object] = field(default_factory=dict)


Listener = Callable[[Event], None]


class Emitter:
    """Thread-safe fan-out of events to a listener (one event at a time).

    Every event's text (its message and its string data, e.g. a target's error) goes through
    ``masker`` first: the one place where front ends are kept from showing secret values.
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
        **data: object,
    ) -> None:
        self.send(Event(kind, message, target, dict(data)))

    def send(self, event: Event) -> None:
        if self._listener is None:
            return
        hide = self.masker
        event = replace(
            event,
            message=hide(event.message),
            data={k: hide(v) if isinstance(v, str) else v for k, v in event.data.items()},
        )
        with self._lock:
            self._listener(event)

    def info(self, message: str, **data: object) -> None:
        self.send(Event("info", message, None, dict(data)))

    def warning(self, message: str, **data: object) -> None:
        self.send(Event("warning", message, None, dict(data)))
