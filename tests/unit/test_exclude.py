"""What stays out of the project copy and its fingerprint: VCS metadata, `exclude` globs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options
from manywheel._config.exclude import Exclusions, vcs_versioning
from manywheel._engines.transfer import project_files
from manywheel._manifest import source_digest


def tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


def listed(root: Path, exclusions: Exclusions) -> set[str]:
    return {p.relative_to(root).as_posix() for p in project_files(root, exclusions)}


def test_globs_follow_gitignore_rules(tmp_path: Path) -> None:
    tree(tmp_path, ["data/a", "src/data/b", "src/data.txt", "top.h5", "src/deep/x.h5",
                    "big/sub/c", "big/d", "bigger/e", "src/x.bin", "src/sub/y.bin",
                    "any/tmp/f", "tmp/g", "src/keep.c"])  # fmt: skip
    names = listed(tmp_path, Exclusions(globs=("data/", "*.h5", "big/**", "src/*.bin", "**/tmp")))
    assert names == {"src", "src/data.txt", "big", "bigger", "bigger/e", "src/sub",
                     "src/sub/y.bin", "any", "src/deep", "src/keep.c"}  # fmt: skip
    # A leading "/" anchors at the root; a trailing "/" matches folders only.
    names = listed(tmp_path, Exclusions(globs=("/data/", "src/data.txt/", "[a-b]ig*")))
    assert "data" not in names
    assert {"src/data/b", "src/data.txt"} <= names
    assert not {n for n in names if n.startswith("big")}


def test_vcs_metadata_is_left_out_by_default(tmp_path: Path) -> None:
    tree(tmp_path, [".git/HEAD", ".git/objects/ab/cd", "sub/.hg/store", ".svn/x", "src/a.c"])
    (tmp_path / "vendored").mkdir()
    (tmp_path / "vendored" / ".git").write_text("gitdir: ../.git/modules/vendored\n")
    assert listed(tmp_path, Exclusions()) == {"src", "src/a.c", "sub", "vendored"}
    assert ".git/HEAD" in listed(tmp_path, Exclusions(vcs=False))


@pytest.mark.parametrize(
    ("files", "tool"),
    [
        ({"pyproject.toml": '[build-system]\nrequires = ["setuptools", "setuptools_scm[toml]>=8"]'},
         "setuptools_scm"),
        ({"pyproject.toml": '[build-system]\nrequires = ["hatchling", "Hatch-VCS"]'}, "Hatch-VCS"),
        ({"pyproject.toml": '[tool.pdm.version]\nsource = "scm"'},
         "pdm-backend (version source scm)"),
        ({"setup.cfg": "[options]\nsetup_requires =\n    setuptools-scm\n"}, "setuptools-scm"),
        ({"setup.py": "setup(use_scm_version=True)\n"}, "setuptools-scm"),
        ({"setup.py": "import versioneer\nsetup(version=versioneer.get_version())\n"}, "versioneer"),
        ({"pyproject.toml": '[build-system]\nrequires = ["setuptools>=64", "cython"]',
          "setup.py": "setup(name='scmless')\n"}, None),
    ],
)  # fmt: skip
def test_vcs_versioning_projects_are_recognized(
    tmp_path: Path, files: dict[str, str], tool: str | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert vcs_versioning(tmp_path) == tool


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_history_changes_the_fingerprint_only_where_it_makes_the_version(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    tree(root, ["src/a.c"])
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "one")
    plain = Options(root)
    first = source_digest(plain)
    git(root, "commit", "-q", "--allow-empty", "-m", "two")
    assert source_digest(plain) == first  # .git is neither copied nor fingerprinted

    (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools-scm"]\n')
    git(root, "add", ".")
    git(root, "commit", "-qm", "scm")
    git(root, "tag", "-a", "v1.0", "-m", "release")
    scm = Options(root)
    assert not scm.exclusions().vcs
    tagged = source_digest(scm)
    git(root, "gc", "-q", "--aggressive", "--prune=now")  # packs refs and objects
    assert not list((root / ".git" / "refs" / "tags").iterdir())
    assert source_digest(scm) == tagged
    git(root, "commit", "-q", "--allow-empty", "-m", "after the tag")  # version 1.0.post1...
    moved = source_digest(scm)
    assert moved != tagged
    git(root, "tag", "v1.1")
    assert source_digest(scm) != moved


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n{body}')
    return tmp_path


def test_exclude_option_from_every_layer(tmp_path: Path) -> None:
    project = write(tmp_path, '[tool.manywheel]\nexclude = ["data/", "*.h5"]\n')
    assert load_options(project, environ={}).exclude == ("data/", "*.h5")
    opts = load_options(project, environ={"MANYWHEEL_EXCLUDE": "big/** *.npy"})
    assert opts.exclude == ("big/**", "*.npy")
    assert opts.exclusions().globs == ("big/**", "*.npy")
    assert load_options(project, environ={}, cli={"exclude": "x/"}).exclude == ("x/",)


@pytest.mark.parametrize("glob", ["!keep.h5", "../outside", "/"])
def test_unsupported_exclude_patterns_are_config_errors(tmp_path: Path, glob: str) -> None:
    project = write(tmp_path, f"[tool.manywheel]\nexclude = [{glob!r}]\n")
    with pytest.raises(ConfigError) as info:
        load_options(project, environ={})
    assert "pyproject.toml [tool.manywheel]: 'exclude' pattern" in info.value.message
    assert glob in info.value.message


def test_copy_vcs_overrides_the_detection(tmp_path: Path) -> None:
    project = write(tmp_path, "")
    assert load_options(project, environ={}).exclusions().vcs
    always = load_options(project, environ={"MANYWHEEL_COPY_VCS": "always"})
    assert not always.exclusions().vcs
    (project / "setup.py").write_text("setup(use_scm_version=True)\n")
    assert not load_options(project, environ={}).exclusions().vcs
    assert load_options(project, environ={}, cli={"copy-vcs": "never"}).exclusions().vcs
