"""Reproducible wheels for real: the same bytes from two runs, two engines, two folders; the
check mode on both engines; the normalized wheels installed in a pristine container."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, OUTPUTS, PACKAGES, engine_or_skip
from tests.integration.helpers import manywheel, run_in_fresh_container, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1200)]

DEFAULT_EPOCH = 315532800  # no commit, no sdist: 1980-01-01


def copy(source: Path, dest: Path, *, mtime: int) -> Path:
    """The project in another folder, its files dated otherwise (as a fresh checkout is)."""
    shutil.copytree(source, dest, ignore=OUTPUTS)
    for path in [dest, *dest.rglob("*")]:
        os.utime(path, (mtime, mtime))
    return dest


def digests(project: Path) -> dict[str, str]:
    return {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels(project)}


def build(project: Path, engine: str) -> dict[str, str]:
    """Build with ``engine`` from scratch; the wheels' sha256 (checked against the report)."""
    for old in wheels(project):
        old.unlink()
    r = manywheel(project, engine, "--force")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    report = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    assert report["source_date_epoch"] == DEFAULT_EPOCH
    found = digests(project)
    assert {t["wheel"]["file"]: t["wheel"]["sha256"] for t in report["targets"]} == found
    return found


def check_record(wheel: Path) -> None:
    """Every file of the wheel is in its RECORD with its sha256 and size, in archive order."""
    with zipfile.ZipFile(wheel) as zf:
        infos = zf.infolist()
        (record,) = [i.filename for i in infos if i.filename.endswith(".dist-info/RECORD")]
        assert infos[-1].filename == record
        rows = list(csv.reader(io.StringIO(zf.read(record).decode())))
        assert [r[0] for r in rows] == [i.filename for i in infos if not i.is_dir()]
        for name, digest, size in rows[:-1]:
            data = zf.read(name)
            hashed = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert (digest, size) == (f"sha256={hashed.decode()}", str(len(data)))
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def same_wheels_everywhere(tmp_path: Path, example: str) -> dict[str, str]:
    docker, podman = engine_or_skip("docker"), engine_or_skip("podman")
    one = copy(EXAMPLES / example, tmp_path / "one" / example, mtime=1600000000)
    two = copy(EXAMPLES / example, tmp_path / "another-folder" / example, mtime=1700000000)
    first = build(one, docker)
    assert len(first) == 3
    assert build(one, docker) == first, "two runs differ"
    assert build(one, podman) == first, "docker and podman differ"
    assert build(two, docker) == first, "two folders differ"
    return first


def test_c_example_is_byte_identical_across_runs_engines_and_folders(tmp_path: Path) -> None:
    same_wheels_everywhere(tmp_path, "c-extension")
    project = tmp_path / "one" / "c-extension"
    for wheel in wheels(project):
        check_record(wheel)
    # The normalized wheels install with pip and import in a pristine container.
    script = "\n".join(
        f"/opt/python/{cp}-{cp}/bin/python -m pip install -q --no-index --find-links /wheels "
        f"mw-cext && /opt/python/{cp}-{cp}/bin/python -c 'import mw_cext; print(mw_cext.add(2, 3))'"
        for cp in ("cp313", "cp314", "cp315")
    )
    assert run_in_fresh_container("podman", project / "dist", script).split() == ["5"] * 3


def test_fortran_example_is_byte_identical_across_runs_engines_and_folders(
    tmp_path: Path,
) -> None:
    same_wheels_everywhere(tmp_path, "fortran-meson")


def test_check_mode_passes_for_the_c_example(engine: str, tmp_path: Path) -> None:
    project = copy(EXAMPLES / "c-extension", tmp_path / "c-extension", mtime=1600000000)
    r = manywheel(project, engine, "--check-reproducible")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    logs = project.parent / "logs" / "latest"
    for cp in ("cp313", "cp314", "cp315"):
        log = (logs / f"{cp}-manylinux_x86_64.log").read_text()
        assert "made the same wheel, byte for byte" in log
        second = (logs / f"{cp}-manylinux_x86_64-check.log").read_text()
        assert "-ffile-prefix-map=/manywheel-check=/manywheel" in second  # really moved
        assert "/project-check" in second


def test_a_build_time_in_the_code_is_caught_and_fixed_by_source_date_epoch(
    engine: str, tmp_path: Path
) -> None:
    project = copy(PACKAGES / "embeds-date", tmp_path / "embeds-date", mtime=1600000000)
    # Without SOURCE_DATE_EPOCH, each build embeds its own time: the check says where.
    r = manywheel(project, engine, "--python", "3.13", "--check-reproducible", "--no-reproducible")
    assert r.returncode == 1, r.stdout + r.stderr[-3000:]
    (line,) = [ln for ln in r.stdout.splitlines() if "failed: not reproducible:" in ln]
    assert "mw_date/_core.cpython-313-x86_64-linux-gnu.so: the content differs" in line
    assert "ELF sections that differ: " in line
    assert ".rodata" in line
    assert "looks like the time of the build (__DATE__, __TIME__)" in line
    assert wheels(project) == []
    kept = project.parent / "logs" / "latest" / "check" / "cp313-manylinux_x86_64"
    assert len(list(kept.glob("*/*.whl"))) == 2
    # With it (the default), GCC takes __DATE__ and __TIME__ from SOURCE_DATE_EPOCH.
    r = manywheel(project, engine, "--python", "3.13", "--check-reproducible")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    (wheel,) = wheels(project)
    check_record(wheel)
    script = (
        "/opt/python/cp313-cp313/bin/python -m pip install -q --no-index --find-links /wheels "
        "mw-date && /opt/python/cp313-cp313/bin/python -c 'import mw_date; print(mw_date.built())'"
    )
    assert (
        run_in_fresh_container(engine, project / "dist", script).strip() == "Jan  1 1980 00:00:00"
    )
