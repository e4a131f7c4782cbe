"""What the builders' tests check on each kind of second engine (``second_dockerd``,
``second_podman``): ``client(*args)`` runs that engine's client against it."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from manywheel._toolchain import ZIG_VERSION
from tests.conftest import FIXTURE_IMAGE_ARM64
from tests.integration.helpers import leftover_containers, manywheel, wheels
from tests.integration.test_faults import start, wait_for_lines

Client = Callable[..., "subprocess.CompletedProcess[str]"]
PYTHONS = ("--python", "3.13", "--python", "3.14", "--python", "3.15")


def digests(project: Path) -> dict[str, str]:
    return {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels(project)}


def cache_volume_cleaned(project: Path, env: dict[str, str], client: Client) -> None:
    """The builder keeps one cache volume for the project (its downloads there), and
    ``cache clean --downloads`` removes it."""
    volumes = client("volume", "ls", "-q").stdout.split()
    assert len(volumes) == 1
    assert volumes[0].startswith("manywheel-cache-")
    clean_downloads(project, env)
    assert client("volume", "ls", "-q").stdout.split() == []


def clean_downloads(project: Path, env: dict[str, str]) -> None:
    """``manywheel cache clean PROJECT --downloads`` (the builders in ``env``): it succeeds."""
    clean = subprocess.run(
        [sys.executable, "-m", "manywheel", "cache", "clean", str(project), "--downloads"],
        capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **env},
    )  # fmt: skip
    assert clean.returncode == 0, clean.stdout + clean.stderr


def same_wheels_alone(spread: Path, tmp_path: Path, engine: str, *args: str) -> None:
    """The project built on this machine's engine alone: byte for byte the same wheels as
    ``spread``'s, built over the builders."""
    alone = tmp_path / "alone"
    shutil.copytree(spread, alone, ignore=shutil.ignore_patterns("dist"))
    r = manywheel(alone, engine, *args, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    assert digests(alone) == digests(spread)


def ctrl_c_removes_the_containers_everywhere(
    project: Path, engine: str, env: dict[str, str], client: Client
) -> None:
    """Three sleeping builds, two here and one on the builder: Ctrl-C ends the run (130) and
    leaves no container on either engine, and no wheel."""
    proc = start(
        project, engine, "-v", *PYTHONS, env={**env, "MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"}
    )
    try:
        wait_for_lines(proc, "scripted: sleeping", 3)
        assert client("ps", "-q").stdout.split()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert leftover_containers(engine, project) == []
    assert client("ps", "-aq").stdout.split() == []
    assert wheels(project) == []


def cross_compiles_there(
    project: Path, engine: str, builder: str, env: dict[str, str], *, name: str, client: Client
) -> None:
    """The C example's cp313 aarch64 target on ``builder`` (named ``name``) alone (which runs aarch64 under
    QEMU): zig for the builder's architecture goes into a volume there once, read-only in the
    build, which compiles with it; the next run finds the volume whole; cache clean removes it."""
    args = ("--python", "3.13", "--archs", "aarch64",
            "--manylinux-aarch64-image", FIXTURE_IMAGE_ARM64)  # fmt: skip
    env = {**env, "MANYWHEEL_BUILDERS": builder}
    before = set(client("volume", "ls", "-q").stdout.split())  # other tests' cache folders'
    copied = f"builder {name}: copied zig-{ZIG_VERSION}-x86_64 into volume"
    for again in (False, True):
        r = manywheel(project, engine, *args, *(["--force"] if again else []), env=env, image=None)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (copied in r.stderr) is not again, r.stderr
        log = (project.parent / "logs" / "latest" / "cp313-manylinux_aarch64.log").read_text()
        assert f"manywheel: cross compilers: zig {ZIG_VERSION} cc -target aarch64-linux-gnu." in log
        (wheel,) = wheels(project)
        assert wheel.name.endswith("_aarch64.whl"), wheel.name
    assert leftover_containers(engine, project) == []
    assert client("ps", "-aq").stdout.split() == []
    labels = client("volume", "ls", "--filter", "label=manywheel.volume=toolchain", "-q")
    assert len(labels.stdout.split()) == 1, labels.stdout
    clean_downloads(project, env)
    assert set(client("volume", "ls", "-q").stdout.split()) == before
