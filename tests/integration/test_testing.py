"""Wheels are tested in a pristine container of the base image (issue 5, point 3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.helpers import manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def test_wheels_are_installed_and_tested(engine: str, example: Example) -> None:
    project = example("scripted")
    r = manywheel(
        project, engine, "-v",
        "--test-requires", "packaging",
        "--test-command", "test -f {project}/build_wheel.sh && python -c 'import mw_scripted, packaging; print(\"answer\", mw_scripted.answer())'",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.count("answer 42") == 3
    assert len(wheels(project)) == 3
    report = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    assert all("test" in t["steps"] for t in report["targets"])


def test_a_wheel_that_needs_the_build_environment_fails(engine: str, example: Example) -> None:
    project = example("scripted")
    r = manywheel(
        project, engine,
        "--setup-script", "mkdir -p /opt/vendor && touch /opt/vendor/runtime-file",
        "--test-command", "test -f /opt/vendor/runtime-file",
        "--test-skip", "cp314-*",
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cp313-manylinux_x86_64 failed: test step failed (exit 35); its wheel" in r.stdout
    assert "is not published" in r.stdout
    names = [w.name for w in wheels(project)]
    assert len(names) == 1  # only the target whose tests were skipped lands
    assert "-cp314-" in names[0]
