"""Per-target log files with secrets masked, and the tail shown when a target fails."""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import TextIO

import platformdirs

__all__ = ["TargetLog", "default_log_root", "mask"]


def mask(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def default_log_root() -> Path:
    return platformdirs.user_state_path("manywheel") / "logs"


class TargetLog:
    """One target's log: every line goes to its own file (never interleaved with others)."""

    def __init__(self, path: Path, secrets: tuple[str, ...], tail_lines: int = 40) -> None:
        self.path = path
        self._secrets = secrets
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._start = time.monotonic()

    def write(self, line: str) -> str:
        line = mask(line.rstrip("\n"), self._secrets)
        self._tail.append(line)
        self._file.write(f"[{time.monotonic() - self._start:8.1f}s] {line}\n")
        self._file.flush()
        return line

    def tail(self) -> list[str]:
        return list(self._tail)

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def for_run(root: Path, run_id: str, name: str) -> Path:
        return root / run_id / f"{name}.log"

    def __enter__(self) -> TargetLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_link(root: Path, run_id: str) -> None:
    """Point ``root/latest`` at this run's folder (best effort)."""
    link = root / "latest"
    try:
        tmp = root / f".latest-{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(run_id)
        os.replace(tmp, link)
    except OSError:
        pass
