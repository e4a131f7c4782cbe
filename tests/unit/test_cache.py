"""A cache folder is manywheel's only when marked: refusals delete nothing, cleaning its parts only."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from manywheel import load_options
from manywheel._cache import MARKER, clean_downloads, clean_venv_cache, open_cache_root
from manywheel._cli.main import main
from manywheel._errors import ConfigError
from manywheel._events import Emitter
from manywheel._runcache import RunCache
from tests.conftest import ROOT
from tests.integration.helpers import tree_digest


def _project(where: Path, cache_dir: str | None = None) -> Path:
    """A small project (with an uncommitted file) whose [tool.manywheel] sets cache-dir."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "c-extension", where / "proj")
    project = where / "proj"
    (project / "uncommitted.txt").write_text("work in progress\n")
    if cache_dir is not None:
        pyproject = project / "pyproject.toml"
        text = pyproject.read_text().replace(
            "\n[tool.manywheel]\n", f'\n[tool.manywheel]\ncache-dir = "{cache_dir}"\n'
        )
        assert f'cache-dir = "{cache_dir}"' in text
        pyproject.write_text(text)
    return project


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI (no --engine: refusing must come before any engine is looked for)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "manywheel: error:" in err
    assert "manywheel: tip: point cache-dir at a new" in err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["cache clean --downloads", "cache list", "build"])
def test_cache_dir_dot_in_pyproject_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    project = _project(tmp_path, ".")
    before = tree_digest(project, skip=())
    err = _refused([*command.split(), str(project)], capsys)
    assert f"{project / 'pyproject.toml'} [tool.manywheel]: 'cache-dir' is {project}" in err
    assert "the project folder" in err
    assert tree_digest(project, skip=()) == before


def test_an_ancestor_of_the_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "work", "..")
    (tmp_path / "work" / "notes.txt").write_text("mine\n")
    before = tree_digest(tmp_path, skip=())
    err = _refused(["cache", "clean", "--downloads", str(project)], capsys)
    assert f"'cache-dir' is {tmp_path / 'work'}, a folder above the project folder" in err
    assert tree_digest(tmp_path, skip=()) == before


def test_home_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    project = _project(tmp_path / "elsewhere")
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "thesis.txt").write_text("years of work\n")
    monkeypatch.setenv("HOME", str(home))
    before = tree_digest(tmp_path, skip=())
    argv = ["cache", "clean", "--downloads", str(project), "--cache-dir", str(home)]
    err = _refused(argv, capsys)
    assert f"command line: --cache-dir is {home}, your home folder" in err
    # A folder above home (here tmp_path holds home) too.
    err = _refused([*argv[:-1], str(tmp_path)], capsys)
    assert f"--cache-dir is {tmp_path}, a folder above your home folder" in err
    assert tree_digest(tmp_path, skip=()) == before


def test_root_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    before = tree_digest(project, skip=())
    monkeypatch.setenv("MANYWHEEL_CACHE_DIR", "/")
    err = _refused(["cache", "clean", "--downloads", str(project)], capsys)
    assert "environment: MANYWHEEL_CACHE_DIR is /, the root folder" in err
    assert tree_digest(project, skip=()) == before
    assert Path("/tmp").is_dir()


def test_an_unmarked_folder_of_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    other = tmp_path / "photos"
    (other / "shared").mkdir(parents=True)  # even with manywheel's part names in it
    (other / "shared" / "cat.jpg").write_bytes(b"\xff\xd8")
    (other / "venvs").mkdir()
    (other / "venvs" / "x.tar").write_bytes(b"not a venv")
    before = tree_digest(tmp_path, skip=())
    for argv in (
        ["cache", "clean", "--downloads", str(project), "--cache-dir", str(other)],
        ["cache", "list", str(project), "--cache-dir", str(other)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"manywheel: error: cache-dir {other} is a folder manywheel did not make" in err
        assert f"no {MARKER} marker" in err
        assert "tip: point cache-dir" in err
    # build refuses to adopt it too, when it first needs the cache (before writing in it)
    cache = RunCache(load_options(project, cli={"cache-dir": str(other)}), Emitter())
    with pytest.raises(ConfigError, match="did not make"):
        cache.root()
    assert tree_digest(tmp_path, skip=()) == before


@pytest.mark.parametrize("flags", [[], ["--engine", "host"]])
def test_the_reported_attack_via_the_cli(tmp_path: Path, flags: list[str]) -> None:
    """`cache-dir = "."` then `python -m manywheel cache clean --downloads` in the project: it
    printed "emptied <project>" and deleted it (with an engine, or `--engine host`). No engine
    on PATH here: refusing needs none."""
    project = _project(tmp_path, ".")
    before = tree_digest(project, skip=())
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "cache", "clean", "--downloads", *flags],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "emptied" not in r.stdout
    assert f"'cache-dir' is {project}, the project folder" in r.stderr
    assert tree_digest(project, skip=()) == before


def test_cache_root_is_made_and_marked_once(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    assert open_cache_root(root, create=False).id is None
    assert not root.exists()  # list and clean make nothing
    made = open_cache_root(root)
    marker = json.loads((root / MARKER).read_text())
    assert made.id == marker["id"]
    assert marker["format"] == 1
    assert open_cache_root(root).id == made.id
    assert [p.name for p in root.iterdir()] == [MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / f"{MARKER}.x1.part").write_text("")  # another run's marker, half-written
    assert open_cache_root(empty).id not in (None, made.id)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        open_cache_root(tmp_path / "file")
    (root / MARKER).write_text("{}")
    with pytest.raises(ConfigError, match="has no valid id"):
        open_cache_root(root)


def test_default_cache_folder_of_older_versions_is_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    old = tmp_path / "xdg" / "manywheel"
    (old / "shared" / "pip").mkdir(parents=True)
    assert open_cache_root(None, create=False) == open_cache_root(None, create=False)
    adopted = open_cache_root(None)
    assert adopted.path == old
    assert adopted.id is not None
    assert (old / MARKER).is_file()
    assert (old / "shared" / "pip").is_dir()


def test_cleaning_removes_only_manywheels_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    root = open_cache_root(tmp_path / "cache")
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "a.tar").write_text("precious")
    (root.path / "shared" / "pip").mkdir(parents=True)
    (root.path / "shared" / "pip" / "wheel").write_text("x")
    (root.path / "shared" / "escape").symlink_to(outside)
    (root.path / "downloads" / "p1").mkdir(parents=True)
    (root.path / "venvs").mkdir()
    (root.path / "venvs" / "k.tar").write_text("venv")
    (root.path / "README.txt").write_text("the user's own note")
    argv = ["cache", "clean", "--downloads", str(project), "--engine", "host"]
    assert main([*argv, "--cache-dir", str(root.path)]) == 0
    out = capsys.readouterr().out
    assert f"removed {root.path / 'shared'}" in out
    assert f"removed {root.path / 'downloads'}" in out
    assert "removed 1 cached build venv(s)" in out
    assert sorted(p.name for p in root.path.iterdir()) == [MARKER, "README.txt", "venvs"]
    assert (outside / "keep" / "a.tar").read_text() == "precious"
    # A symlinked part loses the link only, never what it points at.
    (root.path / "shared").symlink_to(outside)
    shutil.rmtree(root.path / "venvs")
    (root.path / "venvs").symlink_to(outside / "keep")
    assert clean_downloads(root) == [root.path / "shared"]
    assert clean_venv_cache(root) == []
    assert not (root.path / "venvs").exists()
    assert (outside / "keep" / "a.tar").read_text() == "precious"


def test_build_options_refuse_the_project_as_cache(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(ConfigError, match="the project folder") as info:
        load_options(project, cli={"cache-dir": str(project)})
    assert info.value.exit_code == 2
    inside = load_options(project, cli={"cache-dir": str(project / "build-cache")})
    assert inside.cache_dir == project / "build-cache"


def test_runs_that_mark_a_new_folder_at_once_agree_on_its_id(tmp_path: Path) -> None:
    root = tmp_path / "new"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: open_cache_root(root).id, range(32)))
    assert len(ids) == 1
    assert [p.name for p in root.iterdir()] == [MARKER]
