"""SOURCE_DATE_EPOCH: the user's value, else the last commit, else the sdist's, else 1980."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options
from manywheel._epoch import DEFAULT_EPOCH, source_date_epoch


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    return folder


def git(cwd: Path, *args: str, when: int | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    if when is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{when} +0000"
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def folder_in_checkout(tmp_path: Path, name: str) -> Path:
    """A new folder ``name`` in a new git checkout (tmp_path/repo), nothing committed yet."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    folder = repo / name
    folder.mkdir()
    return folder


def test_without_anything_it_is_1980(tmp_path: Path) -> None:
    date = source_date_epoch(Options(project(tmp_path)), environ={})
    assert (date.value, date.origin) == (DEFAULT_EPOCH, "the default, 1980-01-01T00:00:00Z")


def test_an_unpacked_sdist_gives_its_pkg_info_time(tmp_path: Path) -> None:
    folder = project(tmp_path)
    (folder / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: demo\n")
    os.utime(folder / "PKG-INFO", (1600000000, 1600000000))
    date = source_date_epoch(Options(folder), environ={})
    assert (date.value, date.origin) == (1600000000, "the sdist's PKG-INFO")


@needs_git
def test_a_git_checkout_gives_the_last_commit_of_the_project_folder(tmp_path: Path) -> None:
    folder = folder_in_checkout(tmp_path, "pkg")
    repo = folder.parent
    (folder / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    (folder / "PKG-INFO").write_text("not used: the commit comes first\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pkg", when=1650000000)
    (repo / "other.txt").write_text("another folder of the checkout\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "other", when=1660000000)
    date = source_date_epoch(Options(folder), environ={})
    assert (date.value, date.origin) == (1650000000, "the last commit of the project folder")
    assert source_date_epoch(Options(repo), environ={}).value == 1660000000


@needs_git
def test_a_folder_git_does_not_track_falls_through(tmp_path: Path) -> None:
    folder = folder_in_checkout(tmp_path, "untracked")
    assert source_date_epoch(Options(folder), environ={}).value == DEFAULT_EPOCH


def test_the_users_value_comes_first(tmp_path: Path) -> None:
    folder = project(tmp_path)
    (folder / "PKG-INFO").write_text("")
    date = source_date_epoch(Options(folder), environ={"SOURCE_DATE_EPOCH": " 1234567890 "})
    assert (date.value, date.origin) == (1234567890, "the host environment")
    options = load_options(folder, cli={"environment": {"SOURCE_DATE_EPOCH": "42"}}, environ={})
    date = source_date_epoch(options, environ={"SOURCE_DATE_EPOCH": "1234567890"})
    assert (date.value, date.origin) == (42, "the environment option")


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5", "", "١٢٣"])
def test_a_value_that_is_no_whole_number_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="not a whole number of seconds") as e:
        source_date_epoch(Options(project(tmp_path)), environ={"SOURCE_DATE_EPOCH": value})
    assert "git log -1 --format=%ct" in str(e.value.tip)


def test_a_value_computed_in_the_container_is_refused(tmp_path: Path) -> None:
    options = load_options(
        project(tmp_path), cli={"environment": 'SOURCE_DATE_EPOCH="$(date +%s)"'}, environ={}
    )
    with pytest.raises(ConfigError, match="computed in the container"):
        source_date_epoch(options, environ={})
