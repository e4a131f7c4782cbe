"""A run killed with SIGKILL leaves nothing that lasts; the next run and doctor reap the rest."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from manywheel._leftovers import OWNER_LABEL, Owner, this_process
from tests.conftest import FIXTURE_IMAGE
from tests.integration.helpers import leftover_containers, manywheel, wheels
from tests.unit.test_leftovers import dead_owner

# Exclusive: the runs of other tests at the same time would reap these leftovers first.
pytestmark = [pytest.mark.engine, pytest.mark.exclusive]
Example = Callable[[str], Path]


def child_processes_naming(text: str) -> list[str]:
    """Command lines of running processes that mention ``text`` (engine clients of a run)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


def test_kill_9_leaves_nothing_that_lasts(engine: str, example: Example) -> None:
    project = example("scripted")
    logs = project.parent / "logs"
    cmd = [sys.executable, "-m", "manywheel", "build", str(project), "--engine", engine, "-v"]
    cmd += ["--image", FIXTURE_IMAGE, "--pull", "never", "--log-dir", str(logs)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"},
    )
    assert proc.stdout is not None
    seen = []
    while sum("scripted: sleeping" in line for line in seen) < 2:
        line = proc.stdout.readline()
        assert line, "".join(seen)
        seen.append(line)
    (run_dir,) = [p for p in logs.iterdir() if p.is_dir() and not p.is_symlink()]
    assert leftover_containers(engine, project)
    assert (run_dir / "staging").is_dir()
    proc.kill()  # SIGKILL: no cleanup code of manywheel's runs
    proc.wait()
    # The containers end by themselves: their main process sees its lifeline close.
    deadline = time.monotonic() + 30
    while leftover_containers(engine, project) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftover_containers(engine, project) == []
    deadline = time.monotonic() + 10
    while child_processes_naming(run_dir.name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert child_processes_naming(run_dir.name) == []
    # Nothing was put in the project; a publish killed midway would leave a hidden part file.
    assert not list(project.glob(".manywheel-*"))
    dist = project / "dist"
    dist.mkdir(exist_ok=True)
    part = dist / ".mw_scripted-0.1.0-cp313-cp313-linux_x86_64.whl.k1ll3d.part"
    part.write_bytes(b"half a wheel")
    r = manywheel(project, engine, "--python", "3.13")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "removed what killed manywheel runs left" in r.stderr
    assert not (run_dir / "staging").exists()
    assert (run_dir / "cp313-manylinux_x86_64.log").is_file()  # its logs stay
    assert not part.exists()
    (wheel,) = wheels(project)
    assert "-cp313-" in wheel.name


@pytest.fixture
def fake_leftovers(engine: str) -> Iterator[Callable[[str, Owner], str]]:
    """Start containers that look like manywheel's, with a chosen owner; removed at the end."""
    made: list[str] = []

    def start(kind: str, owner: Owner) -> str:
        name = f"manywheel-test-{kind}-{secrets.token_hex(3)}"
        subprocess.run(
            [engine, "run", "-d", "--name", name, "--label", f"{OWNER_LABEL}={owner.token()}",
             "--stop-timeout", "0",  # sh as PID 1 ignores SIGTERM: podman's rm -f waits 10 s
             "--entrypoint", "/bin/sh", FIXTURE_IMAGE, "-c", "sleep 600"],
            check=True, capture_output=True,
        )  # fmt: skip
        made.append(name)
        return name

    yield start
    for name in made:  # one at a time: podman's rm -f of several names stops at a missing one
        subprocess.run([engine, "rm", "-f", name], capture_output=True, check=False)


def exists(engine: str, name: str) -> bool:
    r = subprocess.run([engine, "inspect", name], capture_output=True, check=False)
    return r.returncode == 0


def test_next_run_and_doctor_reap_dead_owners_only(
    engine: str, example: Example, fake_leftovers: Callable[[str, Owner], str]
) -> None:
    dead = fake_leftovers("dead", dead_owner())
    live = fake_leftovers("live", this_process())  # a run in progress: this very process
    me = this_process()
    other_host = fake_leftovers("elsewhere", Owner("another-host", me.boot, 1, "1"))
    r = manywheel(example("c-extension"), engine, command="plan")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "left by manywheel runs that were killed" in r.stderr
    assert dead in r.stderr
    assert not exists(engine, dead)
    assert exists(engine, live)
    assert exists(engine, other_host)
    again = fake_leftovers("dead-again", dead_owner())
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "doctor", "--engine", engine, "--image", FIXTURE_IMAGE],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert again in r.stdout + r.stderr
    assert not exists(engine, again)
    assert exists(engine, live)
