"""What the builders' tests check on each kind of second engine (``second_dockerd``,
``second_podman``): ``client(*args)`` runs that engine's client against it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._builders.endpoint import parse_builder
from manywheel._cache import open_cache_root
from tests.conftest import required_engines
from tests.integration.helpers import leftover_containers, wheels
from tests.integration.ssh_server import ssh_problem
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


def ssh_or_skip(engine: str) -> None:
    """An ssh server can be started here (see ssh_server), else a loud skip, or a failure
    when ``engine``'s tests are required."""
    problem = ssh_problem()
    if problem is not None:
        if engine in required_engines():
            pytest.fail(f"an ssh server is needed for {engine} over ssh: {problem}")
        pytest.skip(f"ENGINE NOT AVAILABLE, {engine} over ssh's test skipped: {problem}")


def built_its_share(
    r: subprocess.CompletedProcess[str], project: Path, word: str, engine: str, client: Client
) -> None:
    """``r``, a run of ``project``'s three targets over this machine's ``engine`` and the
    builder ``word`` (``client`` talks to it): it succeeded, said it reached the builder, built
    on both, wrote the three wheels, and left no container on either."""
    assert r.returncode == 0, r.stdout + r.stderr
    name = parse_builder(word, engine=engine, environ={}).name
    assert f"builder {name}: {engine} " in r.stderr
    report = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    assert {t.get("builder") for t in report["targets"]} == {"local", name}
    assert len(wheels(project)) == 3
    assert leftover_containers(engine, project) == []
    assert client("ps", "-aq").stdout.split() == []


def stale_volume(cache_dir: Path, client: Client) -> str:
    """A builder's cache volume of ``cache_dir``'s for a project whose caches there are gone
    (pruned): the next run that uses the builder removes it (see _cacheprune)."""
    cache_id = open_cache_root(cache_dir).id
    name = f"manywheel-cache-{cache_id}-{'0' * 16}"
    labels = {"manywheel.cache": str(cache_id), "manywheel.volume": "downloads",
              "manywheel.project": "0" * 16}  # fmt: skip
    client("volume", "create", *[f"--label={k}={v}" for k, v in labels.items()], name)
    return name
