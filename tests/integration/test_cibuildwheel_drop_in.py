"""A project configured only for cibuildwheel ([tool.cibuildwheel] and the CIBW_* variables of
its CI job) builds with manywheel as it is, on both engines (issue 12): overrides, test-groups,
test-sources, before-test, test-environment, a before-all that reads a project file,
config-settings, and an abi3 extension built once and tested on every Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_IMAGE
from tests.integration.helpers import manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def ci_job(engine: str) -> dict[str, str]:
    """The variables a cibuildwheel CI job would set (the fixture stands for manylinux)."""
    return {
        "CIBW_MANYLINUX_X86_64_IMAGE": FIXTURE_IMAGE,
        "CIBW_SKIP": "*-musllinux_*",  # no musllinux image here
        "CIBW_ARCHS_LINUX": "auto64",
        "CIBW_CONTAINER_ENGINE": f"{engine}; create_args: --env MW_FROM_CREATE_ARGS=1",
        "CIBW_BUILD_VERBOSITY": "1",
        "CIBW_BEFORE_BUILD_LINUX": 'test "$MW_FROM_CREATE_ARGS" = 1 && '
        "test -f /opt/mw-system-marker && cp /opt/mw-system-marker src/mw_dropin/built-with.txt",
    }


def test_a_cibuildwheel_project_builds_unchanged(engine: str, example: Example) -> None:
    project = example("cibw-drop-in")
    r = manywheel(project, engine, "-v", image=None, env=ci_job(engine))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "ignored" not in r.stderr  # every key and variable honoured
    (wheel,) = wheels(project)  # one abi3 wheel for 3.13, 3.14 and 3.15
    assert wheel.name.startswith("mw_dropin-0.1.0-cp313-abi3-manylinux")
    for ident in ("cp314-manylinux_x86_64", "cp315-manylinux_x86_64"):
        assert f"{ident}: covered by {wheel.name} (not built; its tests ran with it)" in r.stdout
    # Its pytest suite (test-sources, test-groups, the environments) ran on every Python.
    assert r.stderr.count("4 passed") == 3
    for minor in (13, 14, 15):  # pytest's header names the Python it runs on
        assert f"platform linux -- Python 3.{minor}." in r.stderr
    assert (
        r.stderr.count(
            "test_dropin.py::test_config_settings_and_before_all_reached_the_build PASSED"
        )
        == 3
    )
    assert "before-test ran in /project" in r.stderr
    assert "manywheel: audit-command: abi3audit --strict --report {abi3_wheel}" in r.stderr
    report = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    covered = {t["identifier"]: t["covered_by"] for t in report["targets"]}
    assert covered == {
        "cp313-manylinux_x86_64": None,
        "cp314-manylinux_x86_64": wheel.name,
        "cp315-manylinux_x86_64": wheel.name,
    }


def test_a_failing_test_keeps_the_wheel_out(engine: str, example: Example) -> None:
    project = example("cibw-drop-in")
    env = {
        **ci_job(engine),
        "CIBW_INHERIT": "test-environment",  # appended to the TOML's, not replacing it
        "CIBW_TEST_ENVIRONMENT": "MW_FAIL_ON=3.15",
    }
    r = manywheel(project, engine, image=None, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert wheels(project) == []
    assert "failed the tests of cp315-manylinux_x86_64; not published" in r.stdout
    log = (project.parent / "logs" / "latest" / "cp315-manylinux_x86_64.log").read_text()
    assert "asked to fail on 3.15" in log
    assert "3 passed" in log  # the other tests ran and passed


def test_pypy_targets_build_and_import(engine: str, example: Example) -> None:
    """enable = ["pypy"] builds the image's PyPy (/opt/python/pp311-pypy311_pp73 or _pp80, as
    in manylinux images) and tests its wheel with it."""
    probe = subprocess.run(
        [engine, "run", "--rm", FIXTURE_IMAGE, "sh", "-c", "test -x /opt/python/pp311-*/bin/python"],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, (
        "the fixture image has no PyPy: rebuild it with tests/images/build-fixture.sh, which "
        "installs Debian's pypy3 as /opt/python/pp311-pypy311_pp80 (its ABI tag)"
    )
    project = example("cibw-project")
    r = manywheel(project, engine, "-v", env={"CIBW_BUILD": "pp311-*", "CIBW_ENABLE": "pypy"})
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels(project)
    assert "-pp311-pypy311_pp" in wheel.name  # pp73, or pp80 for Debian forky's PyPy 8.0
    assert "1 passed" in r.stderr  # its test imported the extension under PyPy


@pytest.mark.parametrize("frontend", ["pip; args: --no-cache-dir", "uv", "build[uv]"])
def test_each_build_frontend_builds(engine: str, example: Example, frontend: str) -> None:
    project = example("cibw-project")
    env = {"CIBW_BUILD_FRONTEND": frontend, "CIBW_BUILD": "cp313-*", "CIBW_TEST_COMMAND": ""}
    r = manywheel(project, engine, "-v", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels(project)
    assert "-cp313-cp313-manylinux" in wheel.name
    log = (project.parent / "logs" / "latest" / "cp313-manylinux_x86_64.log").read_text()
    if frontend.startswith("pip"):
        assert "Created wheel for mw-cibw" in log  # pip wheel's own words
    else:  # build[uv] and uv need uv, and install with it
        assert "manywheel: installing with uv" in r.stderr
        assert "Successfully built" in log
        assert "Building wheel" in log


def test_wheels_from_the_projects_sdist_and_from_an_sdist_file(
    engine: str, example: Example, tmp_path: Path
) -> None:
    project = example("cibw-project")
    env = {"CIBW_BUILD": "cp313-*"}
    r = manywheel(project, engine, "--build-from-sdist", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (sdist,) = sorted((project / "wheelhouse").glob("*.tar.gz"))  # cibuildwheel's output-dir
    assert sdist.name == "mw_cibw-0.1.0.tar.gz"
    assert len(wheels(project)) == 1
    assert "made the sdist mw_cibw-0.1.0.tar.gz; every wheel is built from it" in r.stderr
    # That sdist as the project: its own configuration, the wheels where the command runs.
    here = tmp_path / "elsewhere"
    here.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "build", "-v", str(sdist), "--engine", engine,
         "--image", FIXTURE_IMAGE, "--pull", "never", "--log-dir", str(tmp_path / "logs2")],
        capture_output=True, text=True, check=False, timeout=900, cwd=here,
        env={**os.environ, **env},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = sorted((here / "wheelhouse").glob("*.whl"))
    assert wheel.name.startswith("mw_cibw-0.1.0-cp313-cp313-manylinux")
    assert r.stderr.count("1 passed") == 1  # its test-command (from the sdist's pyproject) ran
