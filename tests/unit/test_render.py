"""The CLI's views of the library's events: plain lines, the live terminal rows, GitHub Actions."""

from __future__ import annotations

import io
import re
from pathlib import Path

from manywheel._cli.github import GitHubRenderer, escape_property
from manywheel._cli.live import LiveRenderer, use_live_display
from manywheel._cli.render import PlainRenderer
from manywheel._events import BuildStarted, Emitter, Event, Step, TargetDone
from manywheel._logs import Masker

A, B = "cp313-manylinux_x86_64", "cp314-manylinux_x86_64"


def events(log: Path) -> list[Event]:
    """A run with two targets: one builds, one fails (the shape `build` emits)."""
    return [
        Event("info", "using docker (/usr/bin/docker)"),
        Event("info", f"building 2 target(s): {A}, {B}", data=BuildStarted("r", "/l", (A, B))),
        Event("step", "starting container", A, Step("start")),
        Event("step", "starting container", B, Step("start")),
        Event("step", "venv", A, Step("venv")),
        Event("output", "compiling x.c", A),
        Event("warning", "something to know"),
        Event("step", "build", B, Step("build")),
        Event(
            "target-done",
            f"{B}: failed",
            B,
            TargetDone("failed", 3.5, str(log), "build step failed (exit 33)"),
        ),
        Event("target-done", f"{A}: built", A, TargetDone("built", 7.25, str(log), None)),
        Event("summary", "run finished"),
    ]


def test_plain_snapshot(tmp_path: Path) -> None:
    out = io.StringIO()
    render = PlainRenderer(out, verbosity=1)
    for e in events(tmp_path / "x.log"):
        render(e)
    assert out.getvalue().splitlines() == [
        "manywheel: using docker (/usr/bin/docker)",
        f"manywheel: building 2 target(s): {A}, {B}",
        f"[{A}] starting container",
        f"[{B}] starting container",
        f"[{A}] venv",
        "manywheel: warning: something to know",
        f"[{B}] build",
        f"[{B}] failed",
        f"[{A}] built in 7.25 s",
    ]


def test_plain_verbose_and_quiet(tmp_path: Path) -> None:
    loud, quiet = io.StringIO(), io.StringIO()
    for e in events(tmp_path / "x.log"):
        PlainRenderer(loud, verbosity=2)(e)
        PlainRenderer(quiet, verbosity=0)(e)
    assert f"[{A}] compiling x.c" in loud.getvalue()
    assert quiet.getvalue() == "manywheel: warning: something to know\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Utf8(io.StringIO):
    encoding = "utf-8"  # type: ignore[assignment]


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def test_live_rows_state_step_elapsed(tmp_path: Path) -> None:
    out, clock = Utf8(), Clock()
    live = LiveRenderer(out, clock=clock, interval=60, color=False)
    evs = events(tmp_path / "x.log")
    for e in evs[:5]:
        live(e)
        clock.now += 1
    assert live.lines() == [
        f"building 2 target(s): {A}, {B}",
        f"  ⠋ {A}  venv            3.0s",
        f"  ⠋ {B}  start           2.0s",
    ]
    for e in evs[5:]:
        live(e)
        clock.now += 1
    live.close()
    assert live.lines()[1:] == [
        f"  ✓ {A}  built           7.0s",
        f"  ✗ {B}  build step failed (exit 33)    5.0s",
    ]
    text = out.getvalue()
    # Rows are redrawn in place (cursor up, clear), messages scroll above them.
    assert "\x1b[3F\x1b[J" in text
    assert "manywheel: warning: something to know\n" in plain(text)
    assert "compiling x.c" not in text  # build output only with -v


def test_live_only_on_a_real_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_live_display(Tty(), {"TERM": "xterm"})
    assert not use_live_display(Tty(), {"TERM": "xterm", "CI": "true"})
    assert not use_live_display(Tty(), {"TERM": "dumb"})
    assert not use_live_display(io.StringIO(), {"TERM": "xterm"})


def test_github_groups_and_annotations(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("line one\n::error::not from us\n")
    out = io.StringIO()
    render = GitHubRenderer(out)
    for e in events(log):
        render(e)
    lines = out.getvalue().splitlines()
    assert "::warning title=manywheel::something to know" in lines
    start = lines.index(f"::group::{B}: failed (3.5 s)")
    assert lines[start + 1 : start + 4] == ["line one", ": :error: :not from us", "::endgroup::"]
    error = [line for line in lines if line.startswith("::error ")]
    assert error == [
        f"::error title=manywheel%3A {B} failed::build step failed (exit 33) (log: {log})"
    ]
    assert f"::group::{A}: built (7.25 s)" in lines
    assert not any(line == "compiling x.c" for line in lines)


def test_github_escaping() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_no_renderer_shows_a_secret(tmp_path: Path) -> None:
    """Events pass the run's masker before any front end sees them: warnings, info, output,
    a target's error (annotations, live rows); a value learnt mid-run is masked from then on."""
    secret, learnt = "tok-1234abcd", "db-5678efgh"
    log = tmp_path / "x.log"
    log.write_text("build ok\n")
    stream = [
        Event("info", f"building 1 target(s) with {secret}", data=BuildStarted("r", "/l", (A,))),
        Event("warning", f"an option says {secret}"),
        Event("step", "build", A, Step(f"build {secret}")),
        Event("output", f"echo {secret} {learnt}", A),
        Event("target-done", "done", A, TargetDone("failed", 1.0, str(log),
                                                   f"failed near {secret} {learnt}")),
    ]  # fmt: skip
    renderers = {
        "plain": (PlainRenderer(plain_out := io.StringIO(), verbosity=2), plain_out),
        "live": (LiveRenderer(live_out := Utf8(), verbosity=2, clock=Clock()), live_out),
        "github": (GitHubRenderer(github_out := io.StringIO(), verbosity=2), github_out),
    }
    for name, (render, out) in renderers.items():
        emitter = Emitter(render, Masker([secret]))
        emitter.masker.add(learnt)  # as stream_steps does for a value the container computed
        for event in stream:
            emitter.send(event)
        if isinstance(render, LiveRenderer):
            render.close()
            out.write("\n".join(render.lines()))
        text = out.getvalue()
        assert "***" in text, name
        assert secret not in text, name
        assert learnt not in text, name
    assert "::error title=manywheel%3A" in github_out.getvalue()
    assert "failed near *** ***" in github_out.getvalue()


def test_masker_lines_and_short_values() -> None:
    hide = Masker(["abcd-efgh", "ab", "x\nline-two\r\n"])
    assert hide("abcd-efgh abcd ab x line-two") == "*** abcd ab x ***"
    hide.add("abcd")
    assert hide("abcd-efgh abcd") == "*** ***"  # the longer secret is masked whole
