"""GitHub Actions rendering: one collapsible log group per target, error annotations, a job summary.

Concurrent targets cannot share a live group (groups do not nest or interleave), so each
target's step lines are shown as they happen and its whole log is printed as one group when it
finishes. Workflow commands are documented at
https://docs.github.com/actions/reference/workflow-commands-for-github-actions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from .._events import Event, TargetDone
from .._model import OK_STATUSES, RunResult
from .render import PlainRenderer, summary_row

__all__ = ["GitHubRenderer", "escape_data", "escape_property", "step_summary"]


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GitHubRenderer(PlainRenderer):
    """Plain lines plus ``::group::``, ``::error::`` and ``::warning::`` workflow commands."""

    def __init__(self, stream: TextIO | None = None, verbosity: int = 1) -> None:
        super().__init__(stream or sys.stdout, verbosity)

    def __call__(self, event: Event) -> None:
        if event.kind == "output":
            return  # the whole log is printed as a group when the target finishes
        if event.kind == "warning":
            self._line(f"::warning title=manywheel::{escape_data(event.message)}")
            return
        if isinstance(event.data, TargetDone):
            self._target_done(event.target or "?", event.data)
            return
        super().__call__(event)

    def _target_done(self, ident: str, done: TargetDone) -> None:
        status, log = done.status, done.log
        if status == "up-to-date":
            self._line(f"[{ident}] up to date")
            return
        self._line(f"::group::{ident}: {status} ({done.seconds} s)")
        if log is not None and Path(log).is_file():
            with open(log, encoding="utf-8", errors="replace") as f:
                for line in f:
                    # A build printing workflow commands must not trigger them from our group.
                    self._line(line.rstrip("\n").replace("::", ": :"))
        self._line("::endgroup::")
        if status not in OK_STATUSES:
            error = done.error or status
            title = escape_property(f"manywheel: {ident} {status}")
            self._line(f"::error title={title}::{escape_data(f'{error} (log: {log})')}")


def step_summary(result: RunResult) -> str:
    """A Markdown table for ``$GITHUB_STEP_SUMMARY``."""
    lines = [
        f"### manywheel: {len(result.published)} wheel(s) written to `{result.output_dir}`",
        "",
        "| target | status | wheel | size | seconds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in result.results:
        ident, status, name, _, size, seconds = summary_row(r)
        name = f"`{name}`" if name != "-" else name
        lines.append(f"| {ident} | {status} | {name} | {size} | {seconds} |")
    for r in result.failed:
        lines += ["", f"**{r.target.identifier}** {r.status}: {r.error or ''} (log: `{r.log}`)"]
    return "\n".join(lines) + "\n"
