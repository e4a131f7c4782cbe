"""Issue 3's capabilities, for real: no-op rebuilds, prepared-environment cache, shared caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_IMAGE
from tests.integration.helpers import manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def test_unchanged_rebuild_is_a_no_op(engine: str, example: Example, tmp_path: Path) -> None:
    project = example("c-extension")
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    assert manywheel(project, engine, env=state).returncode == 0
    first = {w.name: w.stat().st_mtime_ns for w in wheels(project)}
    assert len(first) == 3

    again = manywheel(project, engine, env=state)
    assert again.returncode == 0, again.stderr
    assert "every target is up to date" in again.stderr
    assert again.stdout.count("up-to-date") == 3
    assert {w.name: w.stat().st_mtime_ns for w in wheels(project)} == first

    # A changed source rebuilds every target; a removed wheel rebuilds only its target.
    src = project / "src" / "mw_cext" / "_core.c"
    src.write_text(src.read_text() + "\n/* changed */\n")
    changed = manywheel(project, engine, env=state)
    assert changed.returncode == 0
    assert changed.stdout.count("  built") == 3
    victim = next(w for w in wheels(project) if "-cp314-" in w.name)
    victim.unlink()
    partial = manywheel(project, engine, env=state)
    assert partial.returncode == 0
    assert partial.stdout.count("up-to-date") == 2
    assert "cp314-manylinux_x86_64  built" in partial.stdout
    forced = manywheel(project, engine, "--force", env=state)
    assert forced.stdout.count("  built") == 3


def _images(engine: str, label: str) -> list[str]:
    return subprocess.run(
        [engine, "images", "--filter", f"label={label}", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip


@pytest.mark.exclusive  # clean --all removes every prepared image, other tests' too
def test_cache_list_and_clean(engine: str, example: Example, tmp_path: Path) -> None:
    project = example("c-extension")
    # The project's own cache folder, as `build` and `cache` both read it from its config.
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert "\n[tool.manywheel]\n" in text
    pyproject.write_text(
        text.replace("\n[tool.manywheel]\n", '\n[tool.manywheel]\ncache-dir = "build-cache"\n')
    )
    cache, other = project / "build-cache", tmp_path / "other-cache"
    tags = {}
    for folder, flags in ((cache, ()), (other, ("--cache-dir", str(other)))):
        setup = ("--setup-script", f"echo {uuid.uuid4().hex}")  # a preparation of its own
        r = manywheel(project, engine, "--python", "3.13", "--force", *setup, *flags)
        assert r.returncode == 0, r.stderr
        assert len(list((folder / "venvs").rglob("*.tar"))) == 1
        cache_id = json.loads((folder / ".manywheel-cache").read_text())["id"]
        [tags[folder]] = _images(engine, f"manywheel.cache={cache_id}")
    (cache / "notes.txt").write_text("not manywheel's: cleaning leaves it\n")

    def cli(*args: str) -> str:
        cmd = [sys.executable, "-m", "manywheel", "cache", *args, str(project), "--engine", engine]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    listed = cli("list")
    assert tags[cache] in listed
    assert tags[other] not in listed
    assert "1 prepared environment(s) from this cache folder" in listed
    assert "other prepared environment(s)" in listed  # at least the other cache's
    assert "1 cached build venv(s)" in listed
    assert f"in {cache / 'venvs'}" in listed
    assert "downloads of 1 project(s), " in listed
    assert tags[other] in cli("list", "--all")

    # Cleaning one cache folder removes its image, venvs and downloads, and nothing else.
    cleaned = cli("clean", "--downloads")
    assert f"removed {tags[cache]}" in cleaned
    assert tags[other] not in cleaned
    assert f"removed 1 cached build venv(s) from {cache / 'venvs'}" in cleaned
    assert f"removed {cache / 'downloads'}" in cleaned
    # Left: the projects' lock files and the last prune's time (see _cacheprune).
    assert sorted(p.name for p in cache.iterdir()) == [
        ".manywheel-cache",
        ".manywheel-pruned",
        "locks",
        "notes.txt",
        "venvs",
    ]
    assert _images(engine, "manywheel.prepared=1").count(tags[other]) == 1
    assert len(list((other / "venvs").rglob("*.tar"))) == 1

    # --all removes every prepared image, whichever cache made it, and says so.
    every = cli("clean", "--all")
    assert "removing every manywheel prepared image" in every
    assert f"removed {tags[other]}" in every
    assert _images(engine, "manywheel.prepared=1") == []


def test_prepared_images_long_unused_go_but_none_in_use(
    engine: str, example: Example, tmp_path: Path
) -> None:
    """A build's prune removes this cache's prepared images unused for cache-keep-days and
    those that lost their tag, without force: one a container uses stays, as do the run's
    own (however long unused) and one never seen before (its clock starts)."""
    project, cache = example("scripted"), tmp_path / "cache"
    args = ("--python", "3.13", "--cache-dir", str(cache), "--setup-script", "echo set up")
    r = manywheel(project, engine, *args)
    assert r.returncode == 0, r.stderr
    cache_id = json.loads((cache / ".manywheel-cache").read_text())["id"]
    ours = f"manywheel.cache={cache_id}"
    [own] = _images(engine, ours)
    key = {k: k * 20 for k in "abcd"}  # a: unused, b: used by a container, c: never seen
    tag = {k: f"localhost/manywheel-env:{v}" for k, v in key.items()}
    made, user = (f"mw-test-{what}-{uuid.uuid4().hex[:8]}" for what in ("made", "user"))

    def call(*argv: str) -> None:
        subprocess.run([engine, *argv], check=True, capture_output=True)

    try:
        call("create", "--name", made, FIXTURE_IMAGE, "true")
        labels = ("--change", "LABEL manywheel.prepared=1", "--change", f"LABEL {ours}")
        for k in "abcdd":  # d twice: the first one loses its tag to the second
            call("commit", *labels, made, tag[k])
        call("create", "--name", user, tag["b"], "true")
        assert _images(engine, ours).count("<none>:<none>") == 1
        locks = cache / "locks" / "prepared"
        then = time.time() - 31 * 24 * 3600
        for name in (key["a"], key["b"], own.rpartition(":")[2]):
            (locks / f"{name}.lock").touch()
            os.utime(locks / f"{name}.lock", (then, then))
        r = manywheel(project, engine, *args)  # up to date: it prunes all the same
        assert r.returncode == 0, r.stderr
        assert "every target is up to date" in r.stderr
        assert "removed the prepared images no build used for 30 days" in r.stderr
        assert sorted(_images(engine, ours)) == sorted([own, tag["b"], tag["c"], tag["d"]])
        assert (locks / f"{key['c']}.lock").is_file()
        assert not (locks / f"{key['a']}.lock").exists()
    finally:
        for name in (made, user):  # one at a time: podman's rm stops at a missing one
            subprocess.run([engine, "rm", "-f", name], capture_output=True, check=False)
        for name in tag.values():
            subprocess.run([engine, "rmi", "-f", name], capture_output=True, check=False)


def test_shared_download_cache_and_ccache(engine: str, example: Example, tmp_path: Path) -> None:
    project = example("scripted")
    cache = tmp_path / "cache"
    say = "MW_SAY='pip cache: $(pip cache dir), jobs: $MAKEFLAGS'"
    r = manywheel(
        project, engine, "--system-packages", "ccache", "--ccache",
        "--cache-dir", str(cache), "--jobs", "3", "-v", env={"MANYWHEEL_ENVIRONMENT": say},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    # pip in every target uses the mounted host folder (whether the index lets it store
    # anything is the index's business), and three parallel targets on two cores get -j1.
    assert r.stderr.count("scripted: pip cache: /manywheel/cache/pip, jobs: -j1") == 3
    # Builds write only to the project's own download part of the cache folder (the venvs
    # are not mounted).
    (downloads,) = (cache / "downloads").iterdir()
    assert any(p.is_file() for p in (downloads / "ccache").rglob("*")), "ccache stored nothing"
    assert len(list((cache / "venvs").rglob("*.tar"))) == 3  # one cached venv per target
    assert not (cache / "ccache").exists()


def _target_log(project: Path, identifier: str = "cp313-manylinux_x86_64") -> str:
    runs = sorted((project.parent / "logs").glob("2*"), key=lambda p: p.stat().st_mtime)
    return (runs[-1] / f"{identifier}.log").read_text()


def test_installer_uv_pip_and_fallbacks(engine: str, example: Example, tmp_path: Path) -> None:
    project = example("c-extension")
    cache = tmp_path / "cache"
    common = ("--python", "3.13", "--cache-dir", str(cache), "--force")

    # auto, and the image has uv (as manylinux images do): uv installs the requirements and
    # build's isolated environment, with its downloads in the shared cache.
    r = manywheel(project, engine, *common)
    assert r.returncode == 0, r.stdout + r.stderr
    log = _target_log(project)
    assert "installing with uv (auto: found /usr/local/bin/uv)" in log
    assert "Creating isolated environment: venv+uv" in log
    assert any(next((cache / "downloads").iterdir()).joinpath("uv").iterdir())

    # pip when asked.
    r = manywheel(project, engine, *common, "--installer", "pip")
    assert r.returncode == 0, r.stdout + r.stderr
    log = _target_log(project)
    assert 'installing with pip (installer = "pip")' in log
    assert "Creating isolated environment: venv+pip" in log

    # auto keeps pip when something configures pip, which uv would not read.
    r = manywheel(project, engine, *common, "--environment", "PIP_PROGRESS_BAR=off")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "installing with pip (auto: pip is configured by PIP_PROGRESS_BAR)" in _target_log(
        project
    )

    # An image without uv: auto falls back to pip; uv asked for fails with the fix.
    no_uv = ("--setup-script", "rm -f /usr/local/bin/uv")
    r = manywheel(project, engine, *common, *no_uv)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "installing with pip (auto: the image has no uv on PATH)" in _target_log(project)
    r = manywheel(project, engine, *common, *no_uv, "--installer", "uv")
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'installer = "uv", but the image has no uv on PATH' in r.stdout + r.stderr
    assert len(wheels(project)) == 1  # the earlier wheel stays; nothing half-written
