"""Canned child processes and an engine that answers from a table (unit tests only).

``CannedEngine`` replaces the two places where ``Engine`` starts processes (``popen`` for engine
commands, ``exec_`` for commands in a container) and keeps everything else real: ``call``'s
error handling, ``run_script``, ``images``, ``image_id``, ``commit`` and the transfer helpers run
their own code on the canned answers. Nothing here starts a process.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

from manywheel._engines.container import Engine


class Sink(io.BytesIO):
    """A child's stdin: keeps what was written even after it is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""

    def close(self) -> None:
        if not self.closed:
            self.data = self.getvalue()
        super().close()


class FakeProc:
    """A child that has already finished: its output is ``stdout``, its status ``returncode``."""

    def __init__(
        self, stdout: bytes = b"", stderr: bytes = b"", returncode: int = 0, *, stdin: bool = False
    ) -> None:
        self.stdout: IO[bytes] | None = io.BytesIO(stdout)
        self.stdin: Sink | None = Sink() if stdin else None
        self._stderr = stderr
        self._code = returncode
        self.returncode: int | None = None
        self.input: bytes | None = None
        self.killed = False

    def communicate(
        self, input: bytes | None = None, timeout: float | None = None
    ) -> tuple[bytes, bytes]:
        self.input = input
        rest = self.stdout.read() if self.stdout is not None else b""
        self.returncode = self._code
        return rest, self._stderr

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self.returncode = self._code
        return self._code

    def kill(self) -> None:
        self.killed = True


class CannedEngine(Engine):
    """An engine whose commands answer from ``answers``: the first key that starts the command
    line (arguments joined by spaces) gives (exit status, stdout, stderr); others answer
    (0, "", ""). ``given`` holds the processes handed out (their ``input``: what was
    written to them); ``execs`` are handed out in order to ``exec_`` calls."""

    def __init__(
        self,
        answers: Mapping[str, tuple[int, str, str]] | None = None,
        execs: Sequence[FakeProc] = (),
        name: str = "docker",
    ) -> None:
        super().__init__(name, f"/usr/bin/{name}")
        self.answers = dict(answers or {})
        self.procs = list(execs)
        self.calls: list[list[str]] = []
        self.exec_calls: list[tuple[str, list[str]]] = []
        self.containers_made: list[str] = []
        self.given: list[FakeProc] = []

    def popen(
        self,
        args: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        self.calls.append(list(args))
        line = " ".join(args)
        code, out, err = next(
            (v for k, v in self.answers.items() if line.startswith(k)), (0, "", "")
        )
        proc = FakeProc(out.encode(), err.encode(), code)
        self.given.append(proc)
        return proc  # type: ignore[return-value]

    def exec_(
        self,
        name: str,
        command: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.STDOUT,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        self.exec_calls.append((name, list(command)))
        proc = self.procs.pop(0)
        return proc  # type: ignore[return-value]

    @contextlib.contextmanager
    def container(
        self,
        image: str,
        name: str,
        *,
        labels: Mapping[str, str],
        extra_args: Sequence[str] = (),
        arch: str | None = None,
    ) -> Iterator[str]:
        self.containers_made.append(f"{image} as {name}")
        yield name
