"""Reusable build venvs: each target's venv (pip, build, build-requirements) kept as a tarball.

A venv lives at the same path in every container (``/manywheel/venv``), so a snapshot taken right
after the requirements were installed can be unpacked in a later container of the same image
and interpreter, skipping venv creation and every download and install. The key covers the
build image, the interpreter, the requirements file, the index settings and the script that
makes the venv; anything else changes nothing in the venv.

Trust: the snapshot is copied out while the build script waits, after the requirements are
installed and before the project's own build code (before-build, build-command, the build
backend) has run, so nothing the build does can end up in it. Snapshots are kept per project
(``venvs/<project>/``), never restored into another project's builds, and their size and sha256
are recorded when saved and checked before each restore: a damaged one is dropped and remade.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from ._config.options import Options
from ._config.requirements import requirements_digest
from ._engines.protocol import Backend
from ._errors import EngineError
from ._model import Target

__all__ = [
    "VENV_FORMAT",
    "clean_venvs",
    "drop_venv",
    "keep_newest",
    "list_venvs",
    "mark_used",
    "project_namespace",
    "save_venv",
    "venv_key",
    "venv_path",
    "verify_venv",
]

VENV_FORMAT = "2"
# The longest a snapshot's copy may take (a venv is tens of megabytes; the build waits on it).
SAVE_TIMEOUT = 600.0
KEEP_PER_TARGET = 2  # a target's snapshots kept in its project's folder, most recently used


def venv_key(
    options: Options, target: Target, env_key: str, recipe: str, compilers: str | None = None
) -> str:
    """``recipe``: the shell lines that make the venv and install into it; ``compilers``: the
    cross compilers planned for the target (None: the image's own), as a requirement built
    from source while installing is built with them."""
    data = {
        "format": VENV_FORMAT,
        "environment": env_key,
        "target": target.identifier,
        "python": target.python,
        "requirements": requirements_digest(options.build_requirements),
        "index": [options.pip_index_url, list(options.pip_extra_index_url)],
        "recipe": hashlib.sha256(recipe.encode()).hexdigest(),
        "compilers": compilers,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def project_namespace(project_dir: Path) -> str:
    """The folder name under which one project's writable caches live (its real path's hash)."""
    return hashlib.sha256(os.fsencode(project_dir.resolve())).hexdigest()[:16]


def venv_path(cache_root: Path, namespace: str, key: str) -> Path:
    return cache_root / "venvs" / namespace / f"{key}.tar"


def _record(tarball: Path) -> Path:
    return tarball.with_suffix(".json")


def save_venv(
    engine: Backend, container: str, snapshot: str, taken: str, dest: Path, *, target: str
) -> None:
    """Copy the snapshot tarball out of ``container`` into ``dest`` atomically (or not at all),
    with its size, sha256 and ``target`` beside it; then create ``taken`` so the waiting
    script goes on."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".venv-", suffix=".part")
    digest, size = hashlib.sha256(), 0
    script = 'cat "$1"; rc=$?; touch "$2"; exit "$rc"'
    try:
        with os.fdopen(fd, "wb") as f:
            proc = engine.exec_(
                container, ["/bin/sh", "-c", script, "sh", snapshot, taken], stderr=subprocess.PIPE
            )
            assert proc.stdout is not None
            # The build waits meanwhile, and a read has no timeout of its own: a copy that
            # stalls is ended (the build goes on without a cache entry).
            late = threading.Event()

            def stop() -> None:
                late.set()
                proc.kill()

            stalled = threading.Timer(SAVE_TIMEOUT, stop)
            stalled.start()
            try:
                while chunk := proc.stdout.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    f.write(chunk)
                _, err = proc.communicate(timeout=SAVE_TIMEOUT)
            finally:
                stalled.cancel()
                engine.registry.discard(proc)
        if late.is_set():
            raise EngineError(f"copying the venv snapshot out took over {SAVE_TIMEOUT:.0f} s")
        if proc.returncode != 0 or size == 0:
            raise EngineError(
                f"could not copy the venv snapshot out: {err.decode(errors='replace').strip()}"
            )
        record = {
            "format": VENV_FORMAT,
            "size": size,
            "sha256": digest.hexdigest(),
            "target": target,
        }
        _record(dest).write_text(json.dumps(record) + "\n")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def verify_venv(tarball: Path) -> str | None:
    """None when ``tarball`` is the snapshot that was saved (size and sha256), else why not."""
    try:
        record = json.loads(_record(tarball).read_text())
        expected_size, expected_hash = int(record["size"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its record (size and sha256) is missing or unreadable"
    try:
        if tarball.stat().st_size != expected_size:
            return f"its size is {tarball.stat().st_size} bytes, {expected_size} were saved"
        digest = hashlib.sha256()
        with tarball.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as e:
        return f"it cannot be read ({e.strerror})"
    if digest.hexdigest() != expected_hash:
        return "its sha256 differs from the one recorded when it was saved"
    return None


def mark_used(tarball: Path) -> None:
    """Its record's time is when it was last saved or restored (see ``keep_newest``)."""
    with contextlib.suppress(OSError):
        os.utime(_record(tarball))


def keep_newest(folder: Path, target: str, keep: int = KEEP_PER_TARGET) -> list[Path]:
    """Drop all but the ``keep`` most recently used snapshots of ``target`` in one project's
    ``folder`` (a snapshot saved by an older manywheel names no target and stays); the
    dropped ones."""
    mine: list[tuple[float, Path]] = []
    for record in folder.glob("*.json"):
        try:
            if json.loads(record.read_text()).get("target") == target:
                mine.append((record.stat().st_mtime, record.with_suffix(".tar")))
        except (OSError, ValueError, AttributeError):
            continue
    dropped = [tarball for _, tarball in sorted(mine, reverse=True)[keep:]]
    for tarball in dropped:
        drop_venv(tarball)
    return dropped


def drop_venv(tarball: Path) -> None:
    for path in (tarball, _record(tarball)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def list_venvs(cache_root: Path) -> list[Path]:
    folder = cache_root / "venvs"
    return sorted(folder.rglob("*.tar")) if folder.is_dir() else []


def clean_venvs(cache_root: Path) -> list[Path]:
    removed = list_venvs(cache_root)
    for path in removed:
        drop_venv(path)
    folder = cache_root / "venvs"
    if folder.is_dir():
        for leftover in sorted(folder.rglob("*"), reverse=True):  # records, partial files
            with contextlib.suppress(OSError):
                if leftover.is_dir() and not leftover.is_symlink():
                    leftover.rmdir()
                else:
                    leftover.unlink()
    return removed
