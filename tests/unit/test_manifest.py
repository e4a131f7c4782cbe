from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._manifest import Manifest, fingerprint, source_digest
from manywheel._model import Target

T = Target("cp313-manylinux_x86_64", "3.13.1", False, "/p")


def project(tmp_path: Path) -> Options:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.c").write_text("int a;")
    (root / "pyproject.toml").write_text("[project]\nname='x'\n")
    return Options(root)


def test_source_digest_tracks_content_not_output(tmp_path: Path) -> None:
    opts = project(tmp_path)
    first = source_digest(opts)
    (opts.project_dir / "dist").mkdir()
    (opts.project_dir / "dist" / "x.whl").write_text("w")
    (opts.project_dir / "__pycache__").mkdir()
    assert source_digest(opts) == first
    (opts.project_dir / "src" / "a.c").write_text("int b;")
    assert source_digest(opts) != first


def test_own_folders_inside_the_project_are_not_sources(tmp_path: Path) -> None:
    base = project(tmp_path)
    root = base.project_dir
    opts = Options(root, output_dir=root / "dist", cache_dir=root / ".mwcache", log_dir=root / "l")
    first = source_digest(opts)
    for folder in (root / ".mwcache" / "venvs", root / "l" / "run1"):
        folder.mkdir(parents=True)
        (folder / "f").write_text("changes every run")
    assert source_digest(opts) == first
    assert set(opts.own_folders()) == {root / "dist", root / ".mwcache", root / "l"}


def test_fingerprint_depends_on_inputs_not_on_run_settings(tmp_path: Path) -> None:
    opts = project(tmp_path)
    fp = fingerprint(opts, T, "env", "src")
    assert fingerprint(replace(opts, jobs=7, log_dir=tmp_path), T, "env", "src") == fp
    assert fingerprint(replace(opts, environment=(("A", "1"),)), T, "env", "src") != fp
    assert fingerprint(opts, T, "env2", "src") != fp
    assert fingerprint(opts, T, "env", "src2") != fp
    other = Target("cp314-manylinux_x86_64", "3.14.0", False, "/q")
    assert fingerprint(opts, other, "env", "src") != fp


def test_growing_the_matrix_or_the_selection_rebuilds_no_built_target(tmp_path: Path) -> None:
    """A target's wheel depends on its own image (its id is in the environment key) and
    interpreter, not on which other targets and images the run selects."""
    opts = project(tmp_path)
    fp = fingerprint(opts, T, "env", "src")
    wider = replace(
        opts,
        archs=("x86_64", "aarch64"),
        libc=("manylinux", "musllinux"),
        manylinux_aarch64_image=("manylinux_2_28",),
        skip=("cp314-*",),
        build=("cp31*",),
        python=("3.13",),
    )
    assert fingerprint(wider, T, "env", "src") == fp
    elsewhere = Target(T.identifier, T.version, False, T.python, T.platform, "other:1")
    assert fingerprint(opts, elsewhere, "env", "src") != fp  # another image: built anew


def test_manifest_round_trip_and_tamper(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    wheel = out / "x-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    m = Manifest(out, state_dir=tmp_path / "state")
    m.record(T.identifier, "fp", wheel)
    m.save()
    again = Manifest(out, state_dir=tmp_path / "state")
    assert again.up_to_date(T.identifier, "fp") == wheel
    assert again.up_to_date(T.identifier, "other") is None
    wheel.write_bytes(b"changed")
    assert again.up_to_date(T.identifier, "fp") is None
    wheel.unlink()
    assert again.up_to_date(T.identifier, "fp") is None


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2]",
        '"text"',
        "{not json",
        '{"format": 1, "targets": [1]}',
        '{"format": 1, "targets": {"cp313-manylinux_x86_64": "oops"}}',
        '{"format": 1, "targets": {"cp313-manylinux_x86_64": {"fingerprint": "fp", '
        '"wheel": null, "sha256": "x"}}}',
        '{"format": 1, "targets": {"cp313-manylinux_x86_64": {"fingerprint": 5, '
        '"wheel": "x.whl", "sha256": "x"}}}',
        '{"format": 1, "targets": {"cp313-manylinux_x86_64": {"fingerprint": "fp", '
        '"wheel": "../x.whl", "sha256": "x"}}}',
        '{"targets": {}}',
    ],
)
def test_damaged_manifest_is_ignored_with_a_problem_not_a_traceback(
    tmp_path: Path, content: str
) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    wheel = out / "x-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    state = tmp_path / "state"
    path = Manifest(out, state_dir=state).path
    path.parent.mkdir(parents=True)
    path.write_text(content)
    m = Manifest(out, state_dir=state)
    assert m.problem is not None
    assert str(path) in m.problem
    assert "ignored" in m.problem
    assert m.entries == {}
    assert m.up_to_date(T.identifier, "fp") is None
    m.record(T.identifier, "fp", wheel)
    m.save()  # the next save replaces it
    again = Manifest(out, state_dir=state)
    assert again.problem is None
    assert again.up_to_date(T.identifier, "fp") == wheel


def test_manifest_of_another_format_is_replaced_quietly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = Manifest(tmp_path, state_dir=state).path
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 2, "targets": "whatever"}')
    m = Manifest(tmp_path, state_dir=state)
    assert m.problem is None
    assert m.entries == {}
