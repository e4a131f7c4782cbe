"""A live terminal display: one row per target (state, step, elapsed), redrawn in place.

Only used on a terminal; messages (and, with -v, build output) scroll above the rows. The rows
stay on screen at the end, followed by the summary the CLI prints.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from .._events import BuildStarted, Event, Step, TargetDone

__all__ = ["LiveRenderer", "use_live_display"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SYMBOLS = {
    "waiting": "·", "built": "✓", "covered": "✓", "up-to-date": "=", "failed": "✗", "cancelled": "-"
}  # fmt: skip
COLORS = {"built": "32", "covered": "32", "up-to-date": "36", "failed": "31", "cancelled": "33"}


def use_live_display(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """A terminal that is not a CI log and understands cursor movement."""
    env = os.environ if environ is None else environ
    if env.get("CI") or env.get("GITHUB_ACTIONS") or env.get("TERM", "dumb") == "dumb":
        return False
    return stream.isatty()


@dataclass
class _Row:
    state: str = "waiting"
    step: str = ""
    started: float | None = None
    ended: float | None = None


class LiveRenderer:
    """Call it with events; ``close()`` stops the refresh thread and leaves the final rows."""

    def __init__(
        self,
        stream: TextIO | None = None,
        verbosity: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.2,
        color: bool | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.verbosity = verbosity
        self._clock = clock
        self._interval = interval
        self._color = ("NO_COLOR" not in os.environ) if color is None else color
        self._rows: dict[str, _Row] = {}
        self._status = ""
        self._drawn = 0
        self._tick = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        encoding = (getattr(self.stream, "encoding", None) or "ascii").lower()
        self._unicode = encoding.replace("-", "").startswith("utf")

    # -- events ---------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if event.kind == "output" and self.verbosity < 2:
            return  # build output is in the logs; the refresh thread keeps the rows current
        with self._lock:
            self._handle(event)
            self._draw()
        if self._thread is None and self._rows:
            self._start()

    def _handle(self, event: Event) -> None:
        now = self._clock()
        if isinstance(event.data, BuildStarted):
            for ident in event.data.targets:
                self._rows.setdefault(ident, _Row())
        if event.kind == "output":
            if self.verbosity >= 2:
                self._above(f"[{event.target}] {event.message}")
        elif event.kind == "warning":
            self._above(f"manywheel: warning: {event.message}")
        elif event.kind == "step" and event.target:
            row = self._rows.setdefault(event.target, _Row())
            if row.started is None:
                row.started = now
            step = event.data.step if isinstance(event.data, Step) else ""
            row.state, row.step = "running", step or event.message
        elif event.kind == "step":
            self._status = event.message
        elif isinstance(done := event.data, TargetDone) and event.target:
            row = self._rows.setdefault(event.target, _Row())
            row.state = done.status
            row.ended = now
            if row.started is None:
                row.started = now - done.seconds
            if row.state == "failed" and done.error:
                row.step = done.error
        elif event.kind == "info" and self.verbosity >= 1:
            if self._rows:
                self._status = event.message
            else:
                self._above(f"manywheel: {event.message}")

    # -- drawing --------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._refresh, name="manywheel-live", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                self._tick += 1
                self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._draw()
            self._drawn = 0  # the final rows stay; later output goes below them

    def _above(self, text: str) -> None:
        self._erase()
        self.stream.write(text + "\n")

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if not self._rows:
            self.stream.flush()
            return
        lines = self.lines()
        self._erase()
        self.stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def lines(self) -> list[str]:
        """The rows as they would be drawn now (without cursor movement)."""
        now = self._clock()
        width = max(len(ident) for ident in self._rows)
        out = []
        if self._status:
            out.append(self._status)
        for ident, row in self._rows.items():
            out.append(f"  {self._symbol(row)} {ident:<{width}}  {self._detail(row, now)}")
        return out

    def _symbol(self, row: _Row) -> str:
        if row.state == "running":
            symbol = (
                SPINNER[self._tick % len(SPINNER)] if self._unicode else "|/-\\"[self._tick % 4]
            )
        else:
            symbol = SYMBOLS.get(row.state, "?")
            if not self._unicode:
                symbol = {"✓": "+", "✗": "x", "·": "."}.get(symbol, symbol)
        code = COLORS.get(row.state)
        return f"\x1b[{code}m{symbol}\x1b[0m" if self._color and code else symbol

    @staticmethod
    def _detail(row: _Row, now: float) -> str:
        if row.started is None:
            return "waiting"
        elapsed = (row.ended if row.ended is not None else now) - row.started
        what = row.step if row.state in ("running", "failed") else row.state
        return f"{what:<12} {elapsed:6.1f}s"
