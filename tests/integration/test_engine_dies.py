"""The docker daemon itself goes away mid-run (stopped, or frozen), then comes back."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel import _run as run_module
from manywheel import build, load_options
from manywheel._engines.watch import EngineWatch
from manywheel._events import Event
from tests.conftest import FIXTURE_IMAGE, ROOT, engine_or_skip
from tests.integration.helpers import leftover_containers
from tests.integration.test_faults import start, tree_digest, wait_for_lines, with_old_output

# Exclusive: every docker build of another test at the same time would see the daemon go too.
pytestmark = [pytest.mark.engine, pytest.mark.exclusive, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def the_dockerd() -> int:
    """The pid of the one docker daemon (the test is skipped without it, or without root)."""
    engine_or_skip("docker")
    pids = subprocess.run(
        ["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False
    ).stdout.split()
    if os.geteuid() != 0 or len(pids) != 1:
        pytest.skip("needs root and the one dockerd that .ci/start-dockerd.sh starts")
    return int(pids[0])


def test_docker_daemon_stopped_mid_build(example: Example) -> None:
    daemon = the_dockerd()
    project = example("scripted")
    before = with_old_output(project)
    proc = start(
        project, "docker", "-v", "--jobs", "3", env={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"}
    )
    try:
        wait_for_lines(proc, "scripted: sleeping", 3)
        os.kill(daemon, signal.SIGTERM)  # the daemon is stopped under the running build
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


def test_a_frozen_docker_daemon_is_found_stuck_and_its_builds_retried(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stuck engine, for real: the daemon is frozen (SIGSTOP) under two sleeping builds, so
    # every call waits, the builds' exec streams too. The run's watch (made quicker here; in
    # process, through the library) finds it stuck, ends the docker clients, and the two
    # builds are retried in fresh containers once the daemon answers again.
    daemon = the_dockerd()
    project = example("scripted")
    (project / "sleep-here").write_text("the first builds sleep; the retries do not\n")
    quick = functools.partial(EngineWatch, interval=2.0, timeout=5.0, misses=2)
    monkeypatch.setattr(run_module, "EngineWatch", quick)
    events: list[Event] = []
    sleeping: set[str] = set()

    def listen(event: Event) -> None:
        events.append(event)
        if event.kind == "output" and "scripted: sleeping" in event.message:
            sleeping.add(str(event.target))
            if len(sleeping) == 2:
                (project / "sleep-here").unlink()
                os.kill(daemon, signal.SIGSTOP)
        if event.kind == "warning" and "stopped answering" in event.message:
            os.kill(daemon, signal.SIGCONT)

    options = load_options(
        project,
        cli={
            "engine": "docker",
            "image": FIXTURE_IMAGE,
            "pull": "never",
            "jobs": 2,
            "log-dir": str(project.parent / "logs"),
        },
        environ={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600 MW_SLEEP_IF=sleep-here"},
    )
    try:
        result = build(options, listen)
    finally:
        os.kill(daemon, signal.SIGCONT)
    assert result.ok, [(r.target.identifier, r.error) for r in result.results]
    assert len(result.published) == 3
    (warned,) = [
        e.message for e in events if e.kind == "warning" and "stopped answering" in e.message
    ]
    assert warned.startswith("docker stopped answering (no answer to 2 questions in a row:")
    retried = sorted(r.target.identifier for r in result.results if r.retried)
    assert retried == sorted(sleeping)
    for r in result.results:
        if r.retried:
            assert "after the engine was stuck; retried" in r.retried
    time.sleep(2)  # the first containers end once the daemon sees their clients gone
    assert leftover_containers("docker", project) == []
