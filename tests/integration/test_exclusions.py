"""What a build container gets of the project (no VCS metadata, no `exclude`d files), what the
project's engine-args may do, and the labels an export writes, on real engines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._engines.container import Engine, ProcessRegistry
from tests.conftest import FIXTURE_IMAGE
from tests.integration.helpers import manywheel, wheels

Example = Callable[[str], Path]
TOML = """
exclude = ["data/", "*.h5"]
engine-args = ["--label", "mw-test.team=x"]
labels = {{ note = "one\\nRUN false", quoted = "$HOME \\"x\\" \\\\" }}
before-build = "test ! -e .git && test ! -e data && test ! -e src/sample.h5 && test -e {kept}"
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def inspect_labels(engine: str, ref: str) -> dict[str, str]:
    out = subprocess.run(
        [engine, "inspect", "--format", "{{json .Config.Labels}}", ref],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    labels: dict[str, str] = json.loads(out)
    return labels


@pytest.mark.engine
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_build_leaves_out_vcs_and_excluded_files_and_export_escapes_labels(
    engine: str, example: Example
) -> None:
    project = example("scripted")
    (project / "data").mkdir()
    (project / "data" / "big.bin").write_bytes(b"\0" * (4 << 20))
    (project / "src" / "sample.h5").write_text("excluded by its suffix")
    with (project / "pyproject.toml").open("a") as f:
        f.write(TOML.format(kept="src/mw_scripted/_core.c"))
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "one")

    r = manywheel(project, engine, "--python", "3.13")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(wheels(project)) == 1  # the before-build found neither .git nor the excluded files
    assert "engine-args from the project's files: --label mw-test.team=x" in r.stderr
    # VCS history is not an input of a project without VCS versioning: still up to date.
    git(project, "commit", "-q", "--allow-empty", "-m", "two")
    r = manywheel(project, engine, "--python", "3.13")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "up-to-date" in r.stdout + r.stderr

    # The exported Dockerfile's labels, built for real: nothing injected, read back exactly.
    export = [sys.executable, "-m", "manywheel", "export", "docker", str(project), "--engine",
              engine, "--image", FIXTURE_IMAGE, "--pull", "never", "--python", "3.13"]  # fmt: skip
    r = subprocess.run(export, capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    tag = f"localhost/mw-test-labels:{engine}"
    try:
        built = subprocess.run(
            [engine, "build", "-q", "-t", tag, str(project / "manywheel-export")],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr
        labels = inspect_labels(engine, tag)
    finally:
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True, check=False)
    assert labels["note"] == "one\\nRUN false"  # a backslash and an n: no new line
    assert labels["quoted"] == '$HOME "x" \\'


@pytest.mark.engine
def test_manywheels_run_label_wins_over_engine_args(engine: str) -> None:
    """Cleanup finds a run's containers by its label: engine-args cannot take it away."""
    docker = Engine(engine, engine, ProcessRegistry())
    name = f"mw-test-label-order-{engine}"
    hijack = ["--label", "manywheel.run=someone-else"]
    with docker.container(FIXTURE_IMAGE, name, labels={"manywheel.run": "mine"}, extra_args=hijack):
        assert inspect_labels(engine, name)["manywheel.run"] == "mine"
        assert docker.containers("manywheel.run=mine") == [name]
