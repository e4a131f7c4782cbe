"""Nothing one build writes is trusted by another project's builds (the two poisoning attacks)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, OUTPUTS
from tests.integration.helpers import manywheel

pytestmark = pytest.mark.engine
Example = Callable[[str], Path]

# Appends a print to every setuptools in the mounted download cache (uv's unpacked archives).
PLANT_IN_DOWNLOADS = (
    "find /manywheel/cache -path '*/setuptools/__init__.py' | while read -r f; do "
    'echo \'print("PLANTED-IN-DOWNLOADS")\' >> "$f"; done'
)

# A .pth in the live venv, and the same files appended to the venv snapshot if it is there.
PLANT_IN_VENV = """
site=$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo 'import sys; print("PLANTED-IN-VENV", file=sys.stderr)' > "$site/zz_planted.py"
echo 'import zz_planted' > "$site/zz_planted.pth"
if [ -f /manywheel/venv.tar ]; then
  tar -rf /manywheel/venv.tar -C /manywheel "${site#/manywheel/}/zz_planted.py" "${site#/manywheel/}/zz_planted.pth"
fi
"""


def elsewhere(tmp_path: Path) -> Path:
    """The same sources as another project, in a folder of its own."""
    dest = tmp_path / "other" / "c-extension"
    shutil.copytree(EXAMPLES / "c-extension", dest, ignore=OUTPUTS)
    return dest


def build(project: Path, engine: str, cache: Path, *args: str, **env: str) -> str:
    r = manywheel(
        project,
        engine,
        "--python",
        "3.13",
        "--cache-dir",
        str(cache),
        "--force",
        *args,
        env={f"MANYWHEEL_{k}": v for k, v in env.items()},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    logs = sorted((project.parent / "logs").glob("*/cp313-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text()


def test_download_cache_poisoning_stays_in_its_project(
    engine: str, example: Example, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    attacker = example("c-extension")
    build(attacker, engine, cache)  # fills its download cache with setuptools
    log = build(attacker, engine, cache, BEFORE_BUILD=PLANT_IN_DOWNLOADS)
    assert "PLANTED-IN-DOWNLOADS" in log  # the attack works, on its own project's builds
    log = build(elsewhere(tmp_path), engine, cache)  # an unrelated project, same cache-dir
    assert "PLANTED-IN-DOWNLOADS" not in log


def test_venv_snapshot_is_taken_before_build_code_runs(
    engine: str, example: Example, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    attacker = example("c-extension")
    log = build(attacker, engine, cache, BEFORE_BUILD=PLANT_IN_VENV)  # cold: saves the venv
    assert "PLANTED-IN-VENV" in log  # the planted .pth runs in this build
    log = build(attacker, engine, cache, BEFORE_BUILD="echo again")
    assert "restored from the cache" in log
    assert "PLANTED-IN-VENV" not in log  # the snapshot was taken before before-build ran
    log = build(elsewhere(tmp_path), engine, cache, BEFORE_BUILD="echo other project")
    assert "restored from the cache" not in log  # another project's venv is never restored
    assert "PLANTED-IN-VENV" not in log
