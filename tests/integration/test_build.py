"""Real builds with real engines and the fixture image (tests/images/build-fixture.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]

PYTHONS = {"cp313": "3.13", "cp314": "3.14", "cp315": "3.15"}


def manywheel(
    project: Path, engine: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "manywheel", "build", str(project),
        "--engine", engine, "--image", FIXTURE_IMAGE, "--pull", "never",
        "--log-dir", str(project.parent / "logs"), *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


def wheels(project: Path) -> list[Path]:
    return sorted((project / "dist").glob("*.whl"))


def run_in_fresh_container(engine: str, wheel_dir: Path, script: str) -> str:
    """Install and use wheels in a throwaway container of the plain fixture image."""
    r = subprocess.run(
        [engine, "run", "--rm", "-v", f"{wheel_dir}:/wheels:ro", FIXTURE_IMAGE, "bash", "-euc", script],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_c_extension_three_pythons(engine: str, example) -> None:  # type: ignore[no-untyped-def]
    project = example("c-extension")
    r = manywheel(project, engine, env={"MANYWHEEL_ENVIRONMENT": "CFLAGS=-DMW_GREETING=from-env"})
    assert r.returncode == 0, r.stdout + r.stderr
    built = wheels(project)
    assert len(built) == 3, built
    for cp in PYTHONS:
        (wheel,) = [w for w in built if f"-{cp}-{cp}-" in w.name]
        assert "manylinux" in wheel.name
        with zipfile.ZipFile(wheel) as zf:
            assert zf.testzip() is None
    assert "3 wheel(s) written" in r.stdout
    script = "\n".join(
        f"/opt/python/{cp}-{cp}/bin/python -m pip install -q --no-index --find-links /wheels mw-cext\n"
        f"/opt/python/{cp}-{cp}/bin/python -c 'import mw_cext, sys; "
        f"print(sys.version_info[:2], mw_cext.add(2, 3), mw_cext.compiled_with())'"
        for cp in PYTHONS
    )
    out = run_in_fresh_container(engine, project / "dist", script)
    assert out.count("5 from-env") == 3, out
    # The host tree got nothing from the build but dist/.
    assert not (project / "build").exists()
    assert not list(project.rglob("*.egg-info"))
    # No container of ours is left behind.
    left = subprocess.run(
        [engine, "ps", "-a", "--filter", "label=manywheel.run", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert left == ""
