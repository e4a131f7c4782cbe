"""A project configured only for cibuildwheel ([tool.cibuildwheel] and the CIBW_* variables of
its CI job) builds with manywheel as it is, on both engines (issue 12): overrides, test-groups,
test-sources, before-test, test-environment, a before-all that reads a project file,
config-settings, and an abi3 extension built once and tested on every Python."""

from __future__ import annotations

import json
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
    assert "warning" not in r.stderr  # every key and variable honoured
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
