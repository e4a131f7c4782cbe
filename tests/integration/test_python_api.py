"""The library used from Python, with a real engine: Options built by hand, then build()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import Options, build, load_options
from tests.conftest import FIXTURE_IMAGE
from tests.integration.helpers import wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1200)]

Example = Callable[[str], Path]


def test_options_built_in_python_build_what_the_cli_builds(
    engine: str, example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Options(project_dir=p) takes the CLI's defaults: the wheel is repaired (auditwheel, so
    a manylinux tag) and lands in p/dist, not in the current folder's dist."""
    project = example("c-extension")  # its [tool.manywheel] is empty: the defaults
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    logs = tmp_path / "logs"
    options = Options(
        project_dir=project, engine=engine, image=FIXTURE_IMAGE, pull="never",
        python=("3.13",), log_dir=logs,
    )  # fmt: skip
    flags = {"engine": engine, "image": FIXTURE_IMAGE, "pull": "never", "python": "3.13"}
    loaded = load_options(project, cli={**flags, "log-dir": str(logs)}, environ={})
    assert replace(loaded, config_files=()) == options
    result = build(options)
    assert result.ok, [(r.target.identifier, r.status, r.error) for r in result.results]
    (wheel,) = wheels(project)
    assert "-cp313-cp313-manylinux" in wheel.name, wheel.name  # repaired
    assert result.published == [wheel]
    assert not (elsewhere / "dist").exists()
