"""Build output goes into the target's log whole, however long its lines, in bounded memory."""

from __future__ import annotations

import io
import subprocess
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from manywheel import _pipeline
from manywheel._errors import EngineError
from manywheel._events import Emitter, Event
from manywheel._logs import TargetLog
from manywheel._model import Target, TargetResult
from manywheel._scripts.build import stream_steps

T = Target("cp313-manylinux_x86_64", "3.13.1", False, "/p")
MARKER = "::mw-test::"


class _Output(io.RawIOBase):
    """A process's stdout, made as it is read: ``head``, ``size`` bytes of x (no newline)."""

    def __init__(self, head: bytes, size: int) -> None:
        self._head, self._left = head, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        n = min(len(buffer), self._left)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


class _Proc:
    def __init__(self, stdout: io.RawIOBase) -> None:
        self.stdout = io.BufferedReader(stdout)


def _stream(log_path: Path, head: bytes, size: int, secrets: tuple[str, ...] = ()) -> list[Event]:
    events: list[Event] = []
    result = TargetResult(T)
    with TargetLog(log_path, secrets) as log:
        proc = cast("subprocess.Popen[bytes]", _Proc(_Output(head, size)))
        stream_steps(proc, log, MARKER, result, Emitter(events.append))
    return events


def test_a_huge_line_without_newline_is_logged_whole_in_bounded_memory(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    head = f"{MARKER} step build\nbefore\n".encode()
    log_path = tmp_path / "t.log"
    started = time.monotonic()
    tracemalloc.start()
    try:
        events = _stream(log_path, head, size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak
    assert time.monotonic() - started < 5
    assert [e.message for e in events if e.kind == "step"] == ["build"]
    output = [e.message for e in events if e.kind == "output"]
    assert output[0] == "before"
    assert output[1].startswith("x" * 1000)
    assert output[1].endswith(f" … [{size - (1 << 16)} bytes more]")
    assert len(output[1]) < (1 << 16) + 100
    # The log has the line whole: its stamp, every byte, one newline.
    with log_path.open("rb") as f:
        lines = [f.readline() for _ in range(2)]
        assert lines[0].endswith(b"] == build\n")
        assert lines[1].endswith(b"] before\n")
        stamp = f.read(12)
        assert stamp.endswith(b"s] ")
        count = 0
        while chunk := f.read(1 << 20):
            count += len(chunk)
            assert chunk.strip(b"x\n") == b""
        assert count == size + 1
        f.seek(-2, 2)
        assert f.read() == b"x\n"


def test_secrets_are_masked_across_pieces(tmp_path: Path) -> None:
    secret = "s3cr3t-value"
    # The secret straddles the first piece boundary, and again later, and ends the line.
    line = "a" * ((1 << 16) - 5) + secret + "b" * (1 << 17) + secret + "c" * 10 + secret
    log_path = tmp_path / "t.log"
    events = _stream(log_path, (line + "\nnext\n").encode(), 0, (secret,))
    text = log_path.read_text()
    assert secret not in text
    assert text.count("***") == 3
    masked = line.replace(secret, "***")
    assert text.splitlines()[0].endswith("] " + masked)
    assert text.splitlines()[1].endswith("] next")
    shown = [e.message for e in events if e.kind == "output"]
    assert secret not in shown[0]
    assert shown[0].startswith("a" * 100)
    assert shown[0].endswith(f" … [{len(masked) - (1 << 16)} bytes more]")
    assert shown[1] == "next"


def test_multibyte_characters_cut_by_a_piece_boundary_survive(tmp_path: Path) -> None:
    line = "é" * (1 << 16)  # 128 KiB: pieces end in the middle of a character
    log_path = tmp_path / "t.log"
    _stream(log_path, (line + "\n").encode(), 0)
    assert log_path.read_text().split("] ", 1)[1] == line + "\n"


def test_a_long_line_with_its_newline_counts_what_is_not_shown(tmp_path: Path) -> None:
    events = _stream(tmp_path / "t.log", b"y" * 100_000 + b"\n", 0)
    (shown,) = [e.message for e in events if e.kind == "output"]
    assert shown == "y" * (1 << 16) + f" … [{100_000 - (1 << 16)} bytes more]"


def _client_that_does_not_end() -> subprocess.Popen[bytes]:
    # Its output is over (nothing on stdout), but the client lives on: an engine that lost
    # the end of the exec session.
    return subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL)


def test_an_exec_client_that_does_not_end_after_its_output_is_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "EXIT_WAIT", 0.2)
    job = cast("_pipeline.TargetJob", SimpleNamespace(engine=SimpleNamespace(name="podman")))
    # The script got to its last step: it succeeded, whatever the client says.
    proc = _client_that_does_not_end()
    with TargetLog(tmp_path / "a.log", ()) as log:
        assert _pipeline._exit_status(job, proc, "done", log) == 0
    assert proc.poll() is not None
    assert (
        "exec client did not end 0 s after the script's output, which got to its end"
        in (tmp_path / "a.log").read_text()
    )
    # It did not: the engine's fault (never a success nor a build failure).
    proc = _client_that_does_not_end()
    with TargetLog(tmp_path / "b.log", ()) as log, pytest.raises(EngineError) as e:
        _pipeline._exit_status(job, proc, "build", log)
    assert e.value.message == (
        "the podman exec client did not end 0 s after the script's output (its last step: build)"
    )
    assert proc.poll() is not None


def test_an_exec_client_that_ends_gives_its_status(tmp_path: Path) -> None:
    job = cast("_pipeline.TargetJob", SimpleNamespace(engine=SimpleNamespace(name="docker")))
    proc = subprocess.Popen(["sh", "-c", "exit 33"])
    with TargetLog(tmp_path / "c.log", ()) as log:
        assert _pipeline._exit_status(job, proc, "build", log) == 33
