"""Real builds with real engines and the fixture image (tests/images/build-fixture.sh)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.helpers import (
    leftover_containers,
    manywheel,
    run_in_fresh_container,
    tree_digest,
    wheels,
)

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1200)]

PYTHONS = ("cp313", "cp314", "cp315")
Example = Callable[[str], Path]


def one_wheel_per_python(project: Path) -> dict[str, Path]:
    built = wheels(project)
    assert len(built) == 3, built
    by_cp = {}
    for cp in PYTHONS:
        (wheel,) = [w for w in built if f"-{cp}-{cp}-" in w.name]
        assert "manylinux" in wheel.name, wheel.name
        with zipfile.ZipFile(wheel) as zf:
            assert zf.testzip() is None
        by_cp[cp] = wheel
    return by_cp


def import_everywhere(engine: str, project: Path, dist: str, code: str, index: bool = False) -> str:
    where = "" if index else "--no-index "
    script = "\n".join(
        f"/opt/python/{cp}-{cp}/bin/python -m pip install -q {where}--find-links /wheels {dist}\n"
        f"/opt/python/{cp}-{cp}/bin/python -c {code!r}"
        for cp in PYTHONS
    )
    return run_in_fresh_container(engine, project / "dist", script)


def test_c_extension_three_pythons(engine: str, example: Example) -> None:
    project = example("c-extension")
    before = tree_digest(project)
    r = manywheel(project, engine, env={"MANYWHEEL_ENVIRONMENT": "CFLAGS=-DMW_GREETING=from-env"})
    assert r.returncode == 0, r.stdout + r.stderr
    one_wheel_per_python(project)
    assert "3 wheel(s) written" in r.stdout
    for cp in PYTHONS:
        assert f"{cp}-manylinux_x86_64  built" in r.stdout  # the summary table
    code = "import mw_cext, sys; print(sys.version_info[:2], mw_cext.add(2, 3), mw_cext.compiled_with())"
    out = import_everywhere(engine, project, "mw-cext", code)
    assert out.count("5 from-env") == 3, out
    assert tree_digest(project) == before  # the host tree got nothing but dist/
    assert leftover_containers(engine, project) == []


def test_fortran_meson_with_requirements_file_and_build_script(
    engine: str, example: Example
) -> None:
    project = example("fortran-meson")
    r = manywheel(project, engine, "-v")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "build_wheel_manylinux.sh" in r.stderr or "meson" in r.stderr  # verbose build output
    for wheel in one_wheel_per_python(project).values():
        with zipfile.ZipFile(wheel) as zf:
            assert any("libgfortran" in n for n in zf.namelist()), "gfortran runtime not grafted"
    code = "import mw_fortran; print(mw_fortran.sum_squares([1.0, 2.0, 3.0]))"
    out = import_everywhere(engine, project, "mw-fortran", code, index=True)
    assert out.split().count("14.0") == 3, out


def test_system_packages_sourced_script_requirements_and_labels(
    engine: str, example: Example
) -> None:
    project = example("vendor-zstd")
    label = uuid.uuid4().hex  # a fresh prepared environment for this test
    labels_args = (
        "--labels",
        "maintainer=tests@manywheel.invalid",
        "--labels",
        f"test-run={label}",
    )
    r = manywheel(project, engine, *labels_args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        "installing system packages with apt-get"
        in (project.parent / "logs").joinpath("latest", "prepare.log").read_text()
    )
    for wheel in one_wheel_per_python(project).values():
        with zipfile.ZipFile(wheel) as zf:
            assert any("libzstd" in n for n in zf.namelist()), "libzstd not grafted"
    code = "import mw_vendor; print(mw_vendor.greeting(), mw_vendor.zstd_version() > 10000)"
    out = import_everywhere(engine, project, "mw-vendor", code)
    assert out.count("vendor-ok True") == 3, out  # the sourced variable reached the compiler

    images = subprocess.run(
        [engine, "images", "--filter", f"label=test-run={label}", "--format", "{{.ID}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(images) == 1, images
    labels = json.loads(
        subprocess.run(
            [engine, "image", "inspect", "--format", "{{json .Config.Labels}}", images[0]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert labels["maintainer"] == "tests@manywheel.invalid"
    assert labels["test-run"] == label
    assert labels["manywheel.prepared"] == "1"

    report = project.parent / "logs" / "latest" / "report.json"
    data = json.loads(report.read_text())
    assert [t["status"] for t in data["targets"]] == ["built"] * 3
    assert all(any("libzstd" in g for g in t["wheel"]["grafted"]) for t in data["targets"])
    shown = subprocess.run(
        [sys.executable, "-m", "manywheel", "report", str(report)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "cp315-manylinux_x86_64" in shown
    assert "libzstd" in shown

    # Same inputs again: the prepared environment is reused, setup is not paid twice.
    r2 = manywheel(project, engine, *labels_args, "--force")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert "up to date (setup skipped)" in r2.stderr
    subprocess.run([engine, "rmi", "-f", images[0]], capture_output=True, check=False)


def test_plan_lists_discovered_targets(engine: str, example: Example) -> None:
    project = example("c-extension")
    r = manywheel(project, engine, "--python", "3.14", command="plan")
    assert r.returncode == 0, r.stderr
    assert "cp314-manylinux_x86_64" in r.stdout
    assert "cp313-manylinux_x86_64" not in r.stdout
    assert "platform: manylinux_x86_64" in r.stdout


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (("--python", "3.9"), "", "3.9 not found in localhost/manywheel-fixture"),
        ((), 'sytem-packages = ["x"]\n', "unknown key 'sytem-packages'"),
        ((), "jobs = 'lots'\n", "'jobs' must be a whole number"),
        ((), 'build-requirements = "missing.txt"\n', "missing.txt, which does not exist"),
    ],
)
def test_bad_config_exits_2_with_clear_message(
    engine: str, example: Example, args: tuple[str, ...], config: str, expected: str
) -> None:
    project = example("c-extension")
    if config:
        with (project / "pyproject.toml").open("a") as f:
            f.write(config)
    r = manywheel(project, engine, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert not (project / "dist").exists() or wheels(project) == []
