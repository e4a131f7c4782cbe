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

__all__ = ["lock_file", "output_lock"]


def lock_file(output_dir: Path, state_dir: Path | None = None) -> Path:
    """The lock file of ``output_dir``: it says ``pid N`` while run N holds it."""
    root = (state_dir or platformdirs.user_state_path("manywheel")) / "locks"
    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:24]
    return root / f"{key}.lock"


@contextlib.contextmanager
def output_lock(
    output_dir: Path, emitter: Emitter, state_dir: Path | None = None
) -> Iterator[None]:
    """Hold an exclusive lock for ``output_dir`` (released by the OS if the process dies)."""
    path = lock_file(output_dir, state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
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
