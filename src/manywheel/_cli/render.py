"""Plain-text rendering of events and of the end-of-run summary (the CLI's view)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .._events import Event, TargetDone
from .._model import RunResult, TargetResult

__all__ = ["PlainRenderer", "format_size", "summary_lines", "summary_row"]


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
        elif isinstance(done := event.data, TargetDone):
            extra = f" in {done.seconds} s" if done.status == "built" else ""
            self._line(f"[{event.target}] {done.status}{extra}")
        else:
            self._line(f"manywheel: {event.message}")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def summary_row(result: TargetResult) -> list[str]:
    """target, status, wheel, tag, size, seconds: one row of the end-of-run summary."""
    wheel = result.wheels[0] if result.wheels else None
    if wheel is not None and wheel.exists():
        name, size = wheel.name, format_size(wheel.stat().st_size)
        tag = "-".join(name[:-4].split("-")[-3:])
    else:
        name, size, tag = "-", "-", "-"
    return [result.target.identifier, result.status, name, tag, size, f"{result.seconds:.1f}"]


def summary_lines(result: RunResult) -> list[str]:
    header = ["target", "status", "wheel", "tag", "size", "seconds"]
    rows = [summary_row(r) for r in result.results]
    if any(r.builder for r in result.results):  # with builders: which one built each
        header.append("builder")
        for row, r in zip(rows, result.results, strict=True):
            row.append(r.builder or "-")
    lines = _table([header, *rows])
    retried = [r.retried for r in result.results if r.retried]
    lines += ["", *retried] if retried else []
    covered = [r for r in result.results if r.status == "covered"]
    if covered:
        lines.append("")
    for r in covered:
        tested = "; its tests ran with it" if "test" in r.steps else ""
        lines.append(f"{r.target.identifier}: covered by {r.covered_by} (not built{tested})")
    for r in result.failed:
        lines += ["", f"{r.target.identifier} {r.status}: {r.error or ''}".rstrip()]
        if r.status == "failed":
            lines += ["  | " + t for t in r.tail[-15:]]
            lines.append(f"  full log: {r.log}")
    fresh = sum(r.status == "up-to-date" for r in result.results)
    wheels = [p for p in result.published if p.name.endswith(".whl")]
    lines += ["", f"{len(wheels)} wheel(s) written to {result.output_dir}"]
    lines += [f"sdist {p.name} written beside them" for p in result.published if p not in wheels]
    if fresh:
        lines[-1] += f" ({fresh} up to date)"
    if result.log_dir is not None:
        lines.append(f"logs: {result.log_dir}")
    if result.report is not None:
        lines.append(f"report: {result.report}")
    return lines


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def report_table(data: dict[str, Any]) -> list[str]:
    """A saved JSON report as a table (``manywheel report``)."""
    rows = [["target", "status", "wheel", "size", "seconds", "grafted"]]
    for t in data.get("targets", []):
        wheel = t.get("wheel") or {}
        rows.append(
            [
                t["identifier"],
                t["status"],
                wheel.get("file", "-"),
                format_size(wheel["size"]) if wheel else "-",
                f"{t.get('seconds', 0):.1f}",
                ", ".join(wheel.get("grafted", [])) or "-",
            ]
        )
    lines = [f"run {data.get('run_id')}  image {data.get('image')}", *_table(rows)]
    for t in data.get("targets", []):
        if t.get("error"):
            lines.append(f"{t['identifier']}: {t['error']} (log: {t.get('log')})")
    return lines
