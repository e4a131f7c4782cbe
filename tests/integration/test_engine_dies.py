"""The docker daemon itself goes away mid-run (stopped), then comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, engine_or_skip
from tests.integration.helpers import leftover_containers
from tests.integration.test_faults import start, tree_digest, wait_for_lines, with_old_output

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def test_docker_daemon_stopped_mid_build(example: Example) -> None:
    engine_or_skip("docker")
    pids = subprocess.run(
        ["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False
    ).stdout.split()
    if os.geteuid() != 0 or len(pids) != 1:
        pytest.skip("needs root and the one dockerd that .ci/start-dockerd.sh starts")
    project = example("scripted")
    before = with_old_output(project)
    proc = start(
        project, "docker", "-v", "--jobs", "3", env={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"}
    )
    try:
        wait_for_lines(proc, "scripted: sleeping", 3)
        os.kill(int(pids[0]), signal.SIGTERM)  # the daemon is stopped under the running build
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=300)  # bounded: never a hang
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["bash", str(ROOT / ".ci" / "start-dockerd.sh")], check=True)
    assert took < 180, f"manywheel needed {took:.0f} s to notice"
    assert proc.returncode in (1, 4), out + err
    assert "Traceback" not in err
    assert "failed" in out or "engine" in err
    assert tree_digest(project / "dist", skip=()) == before  # no partial wheel
    # What the dead daemon could not remove, the revived one can.
    for name in leftover_containers("docker", project):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
