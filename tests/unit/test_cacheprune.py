"""Old cache entries go: projects unused for cache-keep-days, never one a run holds."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from manywheel._cache import CACHE_LABEL
from manywheel._cacheprune import (
    PRUNE_EVERY,
    STAMP,
    _lock,
    _lock_path,
    namespace_in_use,
    prepared_in_use,
    prune_prepared,
    prune_unused,
    toolchain_in_use,
)
from manywheel._prepare import PREPARED_REPO
from manywheel._venvcache import keep_newest, mark_used
from tests.unit.fakes import FakeEngine

DAY = 24 * 3600
NOW = 2_000_000_000.0
OLD, NEW, MINE = "a" * 16, "b" * 16, "c" * 16


def project(root: Path, namespace: str, *, used: float | None, size: int = 1000) -> None:
    """A project's downloads and venvs (``size`` bytes each), last used at ``used`` (None:
    an older manywheel made them: no lock file, the folders' own times say)."""
    for part in ("downloads", "venvs"):
        folder = root / part / namespace
        folder.mkdir(parents=True)
        (folder / "file").write_bytes(b"x" * size)
    if used is None:
        return
    lock = root / "locks" / f"{namespace}.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.touch()
    os.utime(lock, (used, used))


def present(root: Path) -> set[str]:
    return {p.name for p in (root / "downloads").iterdir()} | {
        p.name for p in (root / "venvs").iterdir()
    }


def test_the_projects_unused_for_the_days_go_and_the_others_stay(tmp_path: Path) -> None:
    project(tmp_path, OLD, used=NOW - 31 * DAY, size=1000)
    project(tmp_path, NEW, used=NOW - 29 * DAY)
    project(tmp_path, MINE, used=NOW - 90 * DAY)  # this run's: it is being used
    (tmp_path / "downloads" / "not-a-project").mkdir()  # not manywheel's naming: left alone
    pruned = prune_unused(tmp_path, 30, current=MINE, now=NOW)
    assert pruned is not None
    assert pruned.namespaces == (OLD,)
    assert pruned.size == 2000
    assert present(tmp_path) == {NEW, MINE, "not-a-project"}
    assert not (tmp_path / "locks" / f"{OLD}.lock").exists()


def _toolchain(root: Path, name: str, *, used: float | None, made: float = NOW) -> Path:
    """A toolchain folder made at ``made``, last used at ``used`` (None: never held)."""
    folder = root / "toolchains" / name
    folder.mkdir(parents=True)
    (folder / "file").write_bytes(b"x" * 500)
    os.utime(folder, (made, made))
    if used is not None:
        lock = root / "locks" / "toolchains" / f"{name}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
        os.utime(lock, (used, used))
    return folder


def test_toolchains_no_run_used_for_the_days_go_and_the_held_stay(tmp_path: Path) -> None:
    """The packs of an old twin image, its zig seed, zig itself: shared by every project."""
    _toolchain(tmp_path, "python-3.13.1-x86_64-aaaa", used=NOW - 31 * DAY)
    _toolchain(tmp_path, "zig-seed-aarch64-bbbb", used=None, made=NOW - 40 * DAY)
    _toolchain(tmp_path, "zig-0.17.1-x86_64", used=NOW - 2 * DAY)
    held = _toolchain(tmp_path, "python-3.14.2-x86_64-cccc", used=None, made=NOW - 40 * DAY)
    fresh = _toolchain(tmp_path, "zig-seed-aarch64-dddd", used=None, made=NOW - 1 * DAY)
    old_part = _toolchain(tmp_path, ".python-x.part", used=None, made=NOW - 2 * DAY)
    new_part = _toolchain(tmp_path, ".zig-seed-y.part", used=None, made=NOW - 3600)
    with toolchain_in_use(tmp_path, held.name):
        os.utime(tmp_path / "locks" / "toolchains" / f"{held.name}.lock", (0, 0))
        pruned = prune_unused(tmp_path, 30, current=MINE, now=NOW)
    assert pruned is not None
    assert pruned.toolchains == ("python-3.13.1-x86_64-aaaa", "zig-seed-aarch64-bbbb")
    assert pruned.size == 1000
    left = sorted(p.name for p in (tmp_path / "toolchains").iterdir())
    assert left == sorted([new_part.name, held.name, fresh.name, "zig-0.17.1-x86_64"])
    assert not old_part.exists()
    locks = {p.stem for p in (tmp_path / "locks" / "toolchains").iterdir()}
    assert "python-3.13.1-x86_64-aaaa" not in locks


def test_a_project_a_run_holds_stays_however_old(tmp_path: Path) -> None:
    project(tmp_path, OLD, used=None)
    with namespace_in_use(tmp_path, OLD):
        lock = tmp_path / "locks" / f"{OLD}.lock"
        assert time.time() - lock.stat().st_mtime < 60  # holding it is using it
        os.utime(lock, (0, 0))  # as if it had been held for a very long time
        pruned = prune_unused(tmp_path, 30, current=MINE)
    assert pruned is not None
    assert pruned.namespaces == ()
    assert present(tmp_path) == {OLD}


def test_an_older_manywheels_folders_go_by_their_own_times(tmp_path: Path) -> None:
    project(tmp_path, OLD, used=None)
    project(tmp_path, NEW, used=None)
    for part in ("downloads", "venvs"):
        os.utime(tmp_path / part / OLD, (NOW - 40 * DAY, NOW - 40 * DAY))
        os.utime(tmp_path / part / NEW, (NOW - 40 * DAY, NOW - 40 * DAY))
    os.utime(tmp_path / "venvs" / NEW, (NOW - DAY, NOW - DAY))  # a snapshot saved yesterday
    pruned = prune_unused(tmp_path, 30, current=MINE, now=NOW)
    assert pruned is not None
    assert pruned.namespaces == (OLD,)
    assert present(tmp_path) == {NEW}


def test_a_prune_runs_at_most_once_a_day_and_not_at_all_with_0_days(tmp_path: Path) -> None:
    assert prune_unused(tmp_path, 0, current=MINE, now=NOW) is None
    assert not (tmp_path / STAMP).exists()
    assert prune_unused(tmp_path, 30, current=MINE, now=NOW) is not None
    project(tmp_path, OLD, used=NOW - 60 * DAY)
    assert prune_unused(tmp_path, 30, current=MINE, now=NOW + PRUNE_EVERY - 1) is None
    assert present(tmp_path) == {OLD}
    pruned = prune_unused(tmp_path, 30, current=MINE, now=NOW + PRUNE_EVERY)
    assert pruned is not None
    assert pruned.namespaces == (OLD,)


def test_a_symlinked_project_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    root = tmp_path / "cache"
    project(root, OLD, used=NOW - 60 * DAY)
    (root / "downloads" / OLD / "file").unlink()
    (root / "downloads" / OLD).rmdir()
    (root / "downloads" / OLD).symlink_to(outside)
    prune_unused(root, 30, current=MINE, now=NOW)
    assert (outside / "keep").read_text() == "mine"


def test_a_run_that_waited_for_a_prune_holds_the_new_lock_file(tmp_path: Path) -> None:
    """The prune removes the lock file it holds; a run waiting on the old one must not think
    it holds the project's lock then."""
    pruning = _lock(_lock_path(tmp_path, OLD), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert pruning is not None
    holding = threading.Event()

    def run() -> None:
        with namespace_in_use(tmp_path, OLD):
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.2)
    assert not holding.is_set()  # it waits for the prune
    (tmp_path / "locks" / f"{OLD}.lock").unlink()
    os.close(pruning)
    assert holding.wait(5)
    # It holds the file that is there now: a second prune cannot take it.
    assert _lock(_lock_path(tmp_path, OLD), fcntl.LOCK_EX | fcntl.LOCK_NB) is None
    thread.join()


def snapshot(folder: Path, key: str, target: str | None, used: float) -> Path:
    tarball = folder / f"{key}.tar"
    tarball.write_bytes(b"venv")
    record: dict[str, object] = {"format": "2", "size": 4, "sha256": "0"}
    if target is not None:
        record["target"] = target
    tarball.with_suffix(".json").write_text(json.dumps(record))
    os.utime(tarball.with_suffix(".json"), (used, used))
    return tarball


def test_a_target_keeps_its_two_most_recently_used_snapshots(tmp_path: Path) -> None:
    now = time.time()
    first = snapshot(tmp_path, "k1", "cp313", now - 3 * DAY)
    second = snapshot(tmp_path, "k2", "cp313", now - 2 * DAY)
    third = snapshot(tmp_path, "k3", "cp313", now - DAY)
    other = snapshot(tmp_path, "k4", "cp314", now - 9 * DAY)
    older = snapshot(tmp_path, "k5", None, now - 9 * DAY)  # an older manywheel's: no target
    mark_used(first)  # restored just now: the most recently used
    assert keep_newest(tmp_path, "cp313") == [second]
    assert not second.exists()
    assert not second.with_suffix(".json").exists()
    assert all(p.exists() for p in (first, third, other, older))


@pytest.mark.parametrize("record", ["[1]", "{", ""])
def test_an_unreadable_record_is_left_to_verify(tmp_path: Path, record: str) -> None:
    (tmp_path / "bad.json").write_text(record)
    assert keep_newest(tmp_path, "cp313") == []
    assert (tmp_path / "bad.json").exists()


def test_a_project_that_cannot_be_removed_is_named_and_the_others_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, OLD, used=NOW - 60 * DAY)
    project(tmp_path, NEW, used=NOW - 60 * DAY)
    real = shutil.rmtree

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        if OLD in str(path):
            raise PermissionError(13, "Permission denied")
        real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", refuse)
    pruned = prune_unused(tmp_path, 30, current=MINE, now=NOW)
    assert pruned is not None
    assert pruned.namespaces == (NEW,)
    assert pruned.failed == (f"{tmp_path / '*' / OLD}: Permission denied",)
    assert OLD in present(tmp_path)


# -- prepared images ---------------------------------------------------------------------
CACHE_ID = "c" * 12
KEYS = {name: hex(i)[-1] * 20 for i, name in enumerate(("old", "recent", "busy", "held", "unseen"))}


def prepared(engine: FakeEngine, key: str, *, cache: str = CACHE_ID) -> str:
    """A prepared image of the preparation ``key``, committed by the cache ``cache``."""
    tag = f"{PREPARED_REPO}:{key}"
    engine.commit("ctr", tag, {"manywheel.prepared": "1", CACHE_LABEL: cache})
    return tag


def used(root: Path, key: str, when: float) -> None:
    lock = root / "locks" / "prepared" / f"{key}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    os.utime(lock, (when, when))


def test_prepared_images_unused_for_the_days_go_but_none_in_use(tmp_path: Path) -> None:
    engine = FakeEngine()
    tags = {name: prepared(engine, key) for name, key in KEYS.items()}
    others = prepared(engine, "f" * 20, cache="another")  # another cache folder's: not seen
    for name in ("old", "busy", "held"):
        used(tmp_path, KEYS[name], NOW - 31 * DAY)
    used(tmp_path, KEYS["recent"], NOW - 29 * DAY)
    engine.images_in_use.add(tags["busy"])  # a container of it: the engine refuses
    untagged = "sha256:" + "9" * 64  # a newer commit of its preparation took its tag
    engine.commit("ctr", untagged, {"manywheel.prepared": "1", CACHE_LABEL: CACHE_ID})
    with prepared_in_use(tmp_path, KEYS["held"]):
        os.utime(tmp_path / "locks" / "prepared" / f"{KEYS['held']}.lock", (0, 0))
        gone = prune_prepared(engine, tmp_path, CACHE_ID, 30, now=NOW)
    assert sorted(gone) == sorted([tags["old"], untagged])
    assert engine.images_present == {tags[n] for n in ("recent", "busy", "held", "unseen")} | {
        others
    }
    assert all(force is False for _, force in engine.removed_images)
    locks = tmp_path / "locks" / "prepared"
    assert not (locks / f"{KEYS['old']}.lock").exists()
    # An image made before uses were recorded: its clock starts at this prune.
    assert (locks / f"{KEYS['unseen']}.lock").stat().st_mtime == NOW
    assert prune_prepared(engine, tmp_path, CACHE_ID, 0, now=NOW + 90 * DAY) == []
