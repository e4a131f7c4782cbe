"""Child processes of a run: started in their own session, tracked, stopped on an interrupt."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._errors import EngineError

__all__ = ["QUICK_TIMEOUT", "ExecResult", "ProcessRegistry", "run_quick", "spawn"]

# Bounded waits: no engine call may hang a run forever (except a build's own exec).
QUICK_TIMEOUT = 60.0


class ProcessRegistry:
    """Every child process a run started, so an interrupt can stop them all in escalating steps.
    ``parent``: a run's registry that tracks this one's processes too (a builder's clients,
    stopped alone when the builder is given up, and with all the others on an interrupt)."""

    def __init__(self, parent: ProcessRegistry | None = None) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._parent = parent

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)
        if self._parent is not None:
            self._parent.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)
        if self._parent is not None:
            self._parent.discard(proc)

    def stop_all(self, grace: float = 3.0) -> None:
        with self._lock:
            procs = list(self._procs)
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, grace), (signal.SIGKILL, 1.0)):
            alive = [p for p in procs if p.poll() is None]
            if not alive:
                return
            for p in alive:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(sig)
            deadline = time.monotonic() + wait
            for p in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


def spawn(
    registry: ProcessRegistry,
    argv: Sequence[str],
    *,
    stdin: int | IO[bytes] | None,
    stdout: int | IO[bytes] | None,
    stderr: int | IO[bytes] | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a tracked child in its own session (a terminal Ctrl-C reaches us, not it)."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as e:
        raise EngineError(f"cannot run {argv[0]}: {e.strerror}") from None
    registry.add(proc)
    return proc


def run_quick(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = QUICK_TIMEOUT
) -> ExecResult:
    """Run a short command (an engine client's ``info``, say) in its own session and collect
    its output. It reads nothing (no prompt can wait for an answer: ssh has no terminal
    either). Never raises: a command that does not end in ``timeout`` is killed and gives
    status 124, one that cannot start gives 127, each with the reason as its stderr."""
    try:
        r = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return ExecResult(124, "", f"no answer within {timeout:.0f} s")
    except OSError as e:
        return ExecResult(127, "", str(e))
    return ExecResult(r.returncode, r.stdout, r.stderr)
