"""One run at a time per output folder: a second run waits, saying for whom."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from ._events import Emitter

__all__ = ["output_lock"]


@contextlib.contextmanager
def output_lock(
    output_dir: Path, emitter: Emitter, state_dir: Path | None = None
) -> Iterator[None]:
    """Hold an exclusive lock for ``output_dir`` (released by the OS if the process dies)."""
    root = (state_dir or platformdirs.user_state_path("manywheel")) / "locks"
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:24]
    path = root / f"{key}.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            emitter.warning(
                f"another manywheel run ({holder}) is writing to {output_dir}; waiting for it"
            )
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
