"""Per-target log files with secrets masked, and the tail shown when a target fails."""

from __future__ import annotations

import codecs
import collections
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import platformdirs

__all__ = ["MIN_SECRET_LENGTH", "Masker", "TargetLog", "default_log_root", "mask"]

# Shorter values are not masked: they are no secret, and masking "1" or "on" everywhere
# would garble every line that contains them.
MIN_SECRET_LENGTH = 4


class Masker:
    """Replaces secret values with ``***``. Values learnt while a run goes on (a secret
    computed in the container) are added with :meth:`add`; safe to share between threads."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Mask ``secret``, and each line of it on its own (logs are read line by line)."""
        parts = {secret, *(line.strip("\r") for line in secret.splitlines())}
        with self._lock:
            values = set(self._values) | {p for p in parts if len(p) >= MIN_SECRET_LENGTH}
            # Longest first: a secret that contains another is masked whole.
            self._values = tuple(sorted(values, key=lambda v: (-len(v), v)))

    def longest(self) -> int:
        """The length of the longest value masked (0: none)."""
        values = self._values
        return len(values[0]) if values else 0

    def __call__(self, text: str) -> str:
        for secret in self._values:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def mask(text: str, secrets: Iterable[str]) -> str:
    return Masker(secrets)(text)


def default_log_root() -> Path:
    return platformdirs.user_state_path("manywheel") / "logs"


class TargetLog:
    """One target's log: every line goes to its own file (never interleaved with others)."""

    def __init__(self, path: Path, secrets: Iterable[str], tail_lines: int = 40) -> None:
        self.path = path
        self.mask = Masker(secrets)
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._start = time.monotonic()

    def write(self, line: str) -> str:
        line = self.mask(line.rstrip("\n"))
        self._tail.append(line)
        self._file.write(f"[{time.monotonic() - self._start:8.1f}s] {line}\n")
        self._file.flush()
        return line

    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in every later line (and in :meth:`mask`), e.g. a value the
        container computed."""
        self.mask.add(secret)

    def write_pieces(self, pieces: Iterable[bytes], shown: int) -> str:
        """One line that arrives in pieces (a line can be any length): each piece goes to the
        file as it comes, masked across piece boundaries; returns the line as displayed, its
        first ``shown`` characters and how much more there was."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        hold = max(self.mask.longest(), 1) - 1
        self._file.write(f"[{time.monotonic() - self._start:8.1f}s] ")
        head: list[str] = []
        room, more = shown, 0
        carry = ""
        for piece in pieces:
            text = self.mask(carry + decoder.decode(piece))
            # A secret cut by the piece boundary is kept back until it is whole.
            cut = max(0, len(text) - hold)
            out, carry = text[:cut], text[cut:]
            if not carry:  # the line's end may be in this piece
                out = out.rstrip("\n")
            self._file.write(out)
            head.append(out[:room])
            more += len(out[room:].encode(errors="replace"))
            room = max(0, room - len(out))
        tail = self.mask(carry + decoder.decode(b"", final=True)).rstrip("\n")
        self._file.write(tail + "\n")
        self._file.flush()
        head.append(tail[:room])
        more += len(tail[room:].encode(errors="replace"))
        line = "".join(head).rstrip("\n")
        if more:
            line += f" … [{more} bytes more]"
        self._tail.append(line)
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
