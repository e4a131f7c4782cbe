"""A project configured for cibuildwheel builds with manywheel as it is (issue 5, point 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.helpers import manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def test_cibuildwheel_config_is_honoured(engine: str, example: Example) -> None:
    project = example("cibw-project")
    r = manywheel(project, engine, "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(w.name for w in wheels(project))
    assert len(names) == 2  # build = "cp313-* cp314-*"
    assert "-cp313-" in names[0]
    assert "-cp314-" in names[1]
    assert r.stderr.count("1 passed") == 2  # its pytest suite ran in a pristine container
    assert "ignored archs" not in r.stderr  # archs = ["auto64"]: this machine's x86_64
    assert "warning" not in r.stderr  # no key ignored (the macos table is another platform's)
    assert "musllinux" not in r.stdout  # skip = "*-musllinux_*": its image is never pulled
