"""Odd inputs and damaged state are recovered from, for real (both engines)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._manifest import Manifest
from tests.integration.helpers import leftover_containers, manywheel, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]
TARGET = "cp313-manylinux_x86_64"

# Run as before-build: the odd names arrived, which wheel the venv holds, one 8 MB line.
CHECK = r"""set -eu
test -f "$(printf 'caf\351.txt')"
test -f "$(printf 'dir-\377/caf\351.txt')"
echo "MWNAMES ok"
python -c "import importlib.metadata as m; print('MWPIN', m.version('wheel'))"
head -c 8000000 /dev/zero | tr '\0' x
echo
"""


def test_odd_names_included_requirements_and_a_damaged_manifest(
    engine: str, example: Example, tmp_path: Path
) -> None:
    project = example("c-extension")
    raw = os.fsencode(project)
    os.mkdir(raw + b"/dir-\xff")
    for name in (b"/caf\xe9.txt", b"/dir-\xff/caf\xe9.txt"):  # Latin-1, not UTF-8
        with open(raw + name, "wb") as f:
            f.write(b"x\n")
    (project / "check.sh").write_text(CHECK)
    (project / "reqs" / "common").mkdir(parents=True)
    (project / "reqs" / "build.txt").write_text("-r common/base.txt\n")
    (project / "reqs" / "common" / "base.txt").write_text("wheel\n-c ../pins.txt\n")
    pins = project / "reqs" / "pins.txt"
    pins.write_text("wheel==0.44.0\n")
    with (project / "pyproject.toml").open("a") as f:  # [tool.manywheel] is the last table
        f.write('build-requirements = "reqs/build.txt"\nbefore-build = "bash check.sh"\n')
    state = tmp_path / "state"
    manifest = Manifest(project / "dist", state_dir=state / "manywheel").path
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"format": 1, "targets": {TARGET: "oops"}}))
    args = ("--only", TARGET, "--cache-dir", str(tmp_path / "cache"), "-v")
    env = {"XDG_STATE_HOME": str(state)}
    logs = project.parent / "logs"

    r = manywheel(project, engine, *args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert f"the build manifest {manifest}" in r.stdout + r.stderr
    assert len(wheels(project)) == 1
    log = (logs / "latest" / f"{TARGET}.log").read_text()
    assert "MWNAMES ok" in log
    assert "MWPIN 0.44.0" in log
    # The long line: whole in the log, cut short on the screen.
    assert any(len(line) > 8_000_000 for line in log.splitlines())
    assert f"x … [{8_000_000 - 65536} bytes more]" in r.stdout + r.stderr

    pins.write_text("wheel==0.45.1\n")  # an included file's pin changes: a new venv, a rebuild
    r = manywheel(project, engine, *args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "build manifest" not in r.stdout + r.stderr  # the first run wrote a good one
    assert f"{TARGET}  built" in r.stdout
    log = (logs / "latest" / f"{TARGET}.log").read_text()
    assert "MWPIN 0.45.1" in log
    assert "restored from the cache" not in log
    assert len(wheels(project)) == 1
    assert leftover_containers(engine, project) == []
