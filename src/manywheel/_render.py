"""Plain-text rendering of events and of the end-of-run summary (the CLI's view)."""

from __future__ import annotations

import sys
from typing import TextIO

from ._build import TargetResult
from ._events import Event
from ._run import RunResult

__all__ = ["PlainRenderer", "format_size", "summary_lines"]


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


class PlainRenderer:
    """One line per event, for logs and CI; ``verbosity`` 0 quiet, 1 normal, 2 build output."""

    def __init__(self, stream: TextIO | None = None, verbosity: int = 1) -> None:
        self.stream = stream or sys.stderr
        self.verbosity = verbosity

    def __call__(self, event: Event) -> None:
        if event.kind == "output":
            if self.verbosity >= 2:
                self._line(f"[{event.target}] {event.message}")
        elif event.kind == "warning":
            self._line(f"manywheel: warning: {event.message}")
        elif self.verbosity < 1 or event.kind == "summary":
            return
        elif event.kind == "step" and event.target:
            self._line(f"[{event.target}] {event.message}")
        elif event.kind == "target-done":
            extra = (
                f" in {event.data.get('seconds')} s" if event.data.get("status") == "built" else ""
            )
            self._line(f"[{event.target}] {event.data.get('status')}{extra}")
        else:
            self._line(f"manywheel: {event.message}")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _row(result: TargetResult) -> list[str]:
    wheel = result.wheels[0] if result.wheels else None
    if wheel is not None and wheel.exists():
        name, size = wheel.name, format_size(wheel.stat().st_size)
        tag = "-".join(name[:-4].split("-")[-3:])
    else:
        name, size, tag = "-", "-", "-"
    return [result.target.identifier, result.status, name, tag, size, f"{result.seconds:.1f}"]


def summary_lines(result: RunResult) -> list[str]:
    header = ["target", "status", "wheel", "tag", "size", "seconds"]
    rows = [header] + [_row(r) for r in result.results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in result.failed:
        lines += ["", f"{r.target.identifier} {r.status}: {r.error or ''}".rstrip()]
        if r.status == "failed":
            lines += ["  | " + t for t in r.tail[-15:]]
            lines.append(f"  full log: {r.log}")
    lines += ["", f"{len(result.published)} wheel(s) written to {result.output_dir}"]
    if result.log_dir is not None:
        lines.append(f"logs: {result.log_dir}")
    return lines
