"""Old cache entries go, so that the cache folder does not grow without end.

Each project (its namespace, see ``_venvcache``) has two parts in the cache folder:
``downloads/<project>/`` (pip and uv downloads, ccache, bytecode) and ``venvs/<project>/``
(build-venv snapshots). A run that uses them holds a shared lock on ``locks/<project>.lock``
for as long as it runs, and touches that file: its modification time is when the project's
caches were last used.

At most once a day a build removes the parts of every project that no build has used for
``cache-keep-days`` days. It takes each one's lock exclusively (without waiting) first, so a
project's caches never go while a run uses them, and a run that starts meanwhile waits the
moment the removal takes. A folder from an older manywheel (no lock file) counts as used when
it last changed. Within a project, a target keeps its ``KEEP_PER_TARGET`` most recently used
venv snapshots (see ``_venvcache.keep_newest``): requirements that change often would
otherwise leave a snapshot per change.

A builder's volumes of a project (its downloads, its toolchain copy) go when a run that uses
that builder finds the project unused as long, or its caches here gone (``unused_namespaces``).

Prepared images (shared by every project whose preparation is the same) are kept the same way:
a run that uses one holds a shared lock on ``locks/prepared/<key>.lock`` and touches it. Each
build (not only once a day: listing an engine's images is cheap, and docker and podman are
pruned by their own runs) removes this cache's prepared images unused for ``cache-keep-days``
days from the engine it uses (and from a builder, when it uses that builder's cache), and its
untagged ones (a later commit of the same preparation took their tag), but never one a
container uses: they are removed without force, which both engines refuse for an image in use.
An image with no lock file (made before manywheel recorded its uses) counts as used when a
prune first sees it. One lock file stands for a preparation on every engine: once one engine's
image of it goes, the others' count from the next prune that sees them.
The toolchains here (``toolchains/``: zig, one per version and architecture; the packed
Pythons, one per interpreter manywheel ran on and per twin image's interpreter; zig's seeds, one
per image and target) are shared by every project, and a running build has some mounted. A run
holds each one it uses (a shared lock on ``locks/toolchains/<name>.lock``, touched), and the
daily prune removes those no run used for ``cache-keep-days`` days, holding each one's lock
exclusively as for a project; a folder with no lock file counts as used when it was made. A new
image (the twin's, the target's) makes new ones, so the old ones go this way. The temporary
folders of a run killed while it made one go once they are a day old.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._cache import list_prepared
from ._engines.protocol import ContainerEngine
from ._prepare import PREPARED_REPO

__all__ = [
    "Pruned",
    "folder_size",
    "namespace_in_use",
    "prepared_in_use",
    "prune_prepared",
    "prune_unused",
    "unused_namespaces",
]

LOCKS = "locks"
PREPARED = "prepared"  # locks/prepared/<key>.lock: a prepared image's uses
TOOLCHAINS = "toolchains"  # toolchains/<name>, locks/toolchains/<name>.lock: its uses
PARTS = ("downloads", "venvs")  # a project's parts of the cache folder
STAMP = ".manywheel-pruned"  # its modification time: when a build last pruned
PRUNE_EVERY = 24 * 3600.0
DAY = 24 * 3600.0
_NAMESPACE = re.compile(r"[0-9a-f]{16}")
_KEY = re.compile(r"[0-9a-f]{20}")  # a preparation's (see _prepare.Preparation)


def _lock_path(root: Path, namespace: str) -> Path:
    return root / LOCKS / f"{namespace}.lock"


def _prepared_lock_path(root: Path, key: str) -> Path:
    return root / LOCKS / PREPARED / f"{key}.lock"


def _lock(path: Path, how: int) -> int | None:
    """The locked file descriptor of a lock file (None: ``LOCK_NB`` and held). A lock file
    removed by a prune while this waited for it is not the lock any more: then the new one
    is locked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, how)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)


@contextlib.contextmanager
def _in_use(path: Path) -> Iterator[None]:
    fd = _lock(path, fcntl.LOCK_SH)
    assert fd is not None
    try:
        os.utime(fd)
        yield
    finally:
        os.close(fd)


def namespace_in_use(root: Path, namespace: str) -> contextlib.AbstractContextManager[None]:
    """Hold the project's caches for a run: no prune removes them meanwhile, and they count
    as used now."""
    return _in_use(_lock_path(root, namespace))


def prepared_in_use(root: Path, key: str) -> contextlib.AbstractContextManager[None]:
    """Hold the prepared image of the preparation ``key`` for a run: no prune removes it
    meanwhile, and it counts as used now."""
    return _in_use(_prepared_lock_path(root, key))


def toolchain_in_use(root: Path, name: str) -> contextlib.AbstractContextManager[None]:
    """Hold the toolchain folder ``toolchains/<name>`` for a run: no prune removes it
    meanwhile, and it counts as used now."""
    return _in_use(root / LOCKS / TOOLCHAINS / f"{name}.lock")


def _last_used(root: Path, namespace: str) -> float:
    """When the project's caches were last used: its lock file's time, else (older manywheel)
    the last change of its folders."""
    with contextlib.suppress(FileNotFoundError):
        return _lock_path(root, namespace).stat().st_mtime
    times = [0.0]
    for part in PARTS:
        with contextlib.suppress(FileNotFoundError):
            times.append((root / part / namespace).stat().st_mtime)
    return max(times)


def folder_size(path: Path) -> int:
    """The bytes of the files under ``path`` (symlinks not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _dated_lock(path: Path, when: float) -> None:
    """The lock file ``path`` of something an older manywheel made (no run recorded its
    uses), dated ``when``, unless it exists; made in one step (a run that makes it meanwhile
    wins, and dates it now)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.touch()
    try:
        os.utime(tmp, (when, when))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()


@contextlib.contextmanager
def _held_if_unused(path: Path, limit: float) -> Iterator[bool]:
    """Whether no run holds the lock file ``path`` nor used it since ``limit``; if so, it is
    held (exclusively) for as long as the caller removes what it stands for."""
    fd = _lock(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
    if fd is None:  # a run uses it right now
        yield False
        return
    try:
        yield os.fstat(fd).st_mtime < limit  # else a run used it since the prune looked
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Pruned:
    """What a prune removed: the projects' namespaces and their bytes; what it could not."""

    namespaces: tuple[str, ...]
    size: int
    failed: tuple[str, ...] = ()
    toolchains: tuple[str, ...] = ()  # the toolchain folders removed (their bytes in ``size``)


def prune_unused(
    root: Path, keep_days: int, *, current: str, now: float | None = None
) -> Pruned | None:
    """Remove the caches of every project unused for ``keep_days`` days (0: never), other
    than ``current`` (this run's). None when no prune was due (one ran in the last day)."""
    if keep_days <= 0:
        return None
    now = time.time() if now is None else now
    stamp = root / STAMP
    try:
        if now - stamp.stat().st_mtime < PRUNE_EVERY:
            return None
    except FileNotFoundError:
        pass
    stamp.touch()
    os.utime(stamp, (now, now))  # runs that start meanwhile leave it to this one
    limit = now - keep_days * DAY
    found = {p.name for part in PARTS if (root / part).is_dir() for p in (root / part).iterdir()}
    if (root / LOCKS).is_dir():
        found |= {p.stem for p in (root / LOCKS).glob("*.lock")}
    removed: list[str] = []
    failed: list[str] = []
    size = 0
    for namespace in sorted(unused_namespaces(root, found, keep_days, current=current, now=now)):
        try:
            size += _remove_unused(root, namespace, limit)
            removed.append(namespace)
        except _InUse:
            continue
        except OSError as e:  # say so, and go on with the others
            failed.append(f"{root / '*' / namespace}: {e.strerror or e}")
    tools, tools_size = _prune_toolchains(root, limit, now, failed)
    return Pruned(tuple(removed), size + tools_size, tuple(failed), tools)


def _prune_toolchains(
    root: Path, limit: float, now: float, failed: list[str]
) -> tuple[tuple[str, ...], int]:
    """Remove the toolchain folders no run used since ``limit`` (each held exclusively, as a
    project's caches are), and the temporary folders of a day ago; their names and bytes."""
    folder = root / TOOLCHAINS
    if not folder.is_dir():
        return (), 0
    removed, size = [], 0
    for path in sorted(folder.iterdir()):
        try:
            if path.name.startswith("."):  # a run's temporary folder (.python-*.part, ...)
                if path.is_dir() and path.stat().st_mtime < now - DAY:
                    shutil.rmtree(path)
                continue
            if not path.is_dir() or path.is_symlink():
                continue
            lock = root / LOCKS / TOOLCHAINS / f"{path.name}.lock"
            gone = _remove_if_unused(lock, path.stat().st_mtime, limit, [path])
            if gone is not None:
                size += gone
                removed.append(path.name)
        except OSError as e:  # say so, and go on with the others
            failed.append(f"{path}: {e.strerror or e}")
    return tuple(removed), size


class _InUse(Exception):
    """A run holds the project's caches, or used them since the prune looked."""


def _remove_unused(root: Path, namespace: str, limit: float) -> int:
    """Remove the project's parts, holding its lock; their bytes."""
    # Dated 0 if it is not there: taking it says nothing of a use (_last_used decided).
    folders = [root / part / namespace for part in PARTS]
    size = _remove_if_unused(_lock_path(root, namespace), 0.0, limit, folders)
    if size is None:
        raise _InUse
    return size


def _remove_if_unused(lock: Path, made: float, limit: float, folders: list[Path]) -> int | None:
    """Remove ``folders`` (those that are folders, not symlinks) and then the lock file
    ``lock``, holding it exclusively, unless a run holds it or used it since ``limit``; a lock
    file that is not there is made dated ``made`` first. Their bytes, or None (in use)."""
    _dated_lock(lock, made)
    with _held_if_unused(lock, limit) as unused:
        if not unused:
            return None
        size = 0
        for folder in folders:
            if folder.is_dir() and not folder.is_symlink():
                size += folder_size(folder)
                shutil.rmtree(folder)
        lock.unlink()
    return size


def unused_namespaces(
    root: Path, namespaces: set[str], keep_days: int, *, current: str, now: float | None = None
) -> set[str]:
    """Those of ``namespaces`` (projects with caches here or volumes on a builder), other than
    ``current``, that no build from this cache folder has used for ``keep_days`` days (0:
    none), or whose caches here are gone (pruned, cleaned)."""
    if keep_days <= 0:
        return set()
    limit = (time.time() if now is None else now) - keep_days * DAY
    return {
        n
        for n in namespaces
        if n != current and _NAMESPACE.fullmatch(n) and _last_used(root, n) < limit
    }


def prune_prepared(
    engine: ContainerEngine, root: Path, cache_id: str, keep_days: int, *, now: float | None = None
) -> list[str]:
    """Remove ``engine``'s prepared images of this cache (``cache_id``) that no run has used
    for ``keep_days`` days (0: none), and its untagged ones, but none a container uses (see
    the module's docstring); what went. Raises EngineError for an engine that does not
    answer."""
    if keep_days <= 0:
        return []
    now = time.time() if now is None else now
    limit = now - keep_days * DAY
    removed = []
    for image in list_prepared(engine, cache_id):
        if image.ref == image.image_id:  # untagged: no run can use it any more
            if _removed(engine, image.image_id):
                removed.append(image.image_id)
            continue
        key = image.tag.rpartition(":")[2]
        if not (image.tag.startswith(PREPARED_REPO + ":") and _KEY.fullmatch(key)):
            continue
        lock = _prepared_lock_path(root, key)
        if not lock.exists():
            _dated_lock(lock, now)  # its clock starts now
            continue
        with _held_if_unused(lock, limit) as unused:
            if unused and _removed(engine, image.tag):
                lock.unlink()
                removed.append(image.tag)
    return removed


def _removed(engine: ContainerEngine, ref: str) -> bool:
    """Remove the image ``ref`` without force; whether it went (a container uses it: not)."""
    engine.remove_image(ref, force=False)
    return engine.image_id(ref) is None
