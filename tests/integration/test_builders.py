"""Builders for real: a second docker daemon on this machine (its own network namespace, data
root and TLS certificates, see ``second_dockerd``) stands in for a remote build server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    FIXTURE_IMAGE,
    FIXTURE_IMAGE_ARM64,
    FIXTURE_IMAGE_I386,
    engine_or_skip,
    required_engines,
)
from tests.integration.builders_checks import (
    PYTHONS,
    built_its_share,
    cache_volume_cleaned,
    ctrl_c_removes_the_containers_everywhere,
    digests,
    ssh_or_skip,
    stale_volume,
)
from tests.integration.helpers import leftover_containers, manywheel, wheels
from tests.integration.second_dockerd import (
    CONTAINER_PREFIX,
    DAEMON_IP,
    SecondDockerd,
    second_dockerd_problem,
)
from tests.integration.ssh_server import SshServer
from tests.integration.test_faults import start, wait_for_lines

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def second() -> Iterator[SecondDockerd]:
    """The second daemon with the x86_64 fixture image (module-scoped: other modules count
    the dockerd processes, and it is gone when they run)."""
    engine_or_skip("docker")
    problem = second_dockerd_problem()
    if problem is not None:
        if "docker" in required_engines():
            pytest.fail(f"a second dockerd is needed for the builders' tests: {problem}")
        pytest.skip(f"ENGINE NOT AVAILABLE, builders' tests skipped: {problem}")
    daemon = SecondDockerd().start()
    try:
        daemon.load(FIXTURE_IMAGE)
        daemon.load(FIXTURE_IMAGE_I386)
        yield daemon
    finally:
        daemon.close()


def doctor(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manywheel", "doctor", str(project), "--engine", "docker"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **env},
    )


def line(out: str, engine: str, check: str) -> str:
    """doctor's row of ``check`` on ``engine`` (ENGINE  CHECK  STATUS  DETAIL)."""
    row = re.compile(rf"{re.escape(engine)} +{re.escape(check)} +[A-Z]+ ")
    found = [text for text in out.splitlines() if row.match(text)]
    assert found, f"no {engine} {check} row in:\n{out}"
    return found[0]


def same_wheels_alone(spread: Path, tmp_path: Path, engine: str, *args: str) -> None:
    """The project built on this machine's engine alone: byte for byte the same wheels as
    ``spread``'s, built over the builders."""
    alone = tmp_path / "alone"
    shutil.copytree(spread, alone, ignore=shutil.ignore_patterns("dist"))
    r = manywheel(alone, engine, *args, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    assert digests(alone) == digests(spread)


def test_doctor_checks_a_tls_builder(second: SecondDockerd, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.manywheel]\n"
        'archs = ["x86_64", "aarch64"]\n'
        f'manylinux-x86_64-image = "{FIXTURE_IMAGE}"\n'
        f'manylinux-aarch64-image = "{FIXTURE_IMAGE_ARM64}"\n'
    )
    name = second.tcp_host.removeprefix("tcp://")
    env = {"MANYWHEEL_BUILDERS": f"local {second.tcp_host}", "DOCKER_CERT_PATH": str(second.certs)}
    r = doctor(project, env)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "OK" in line(out, name, "tls")
    assert str(second.certs) in line(out, name, "tls")
    answers = line(out, name, "answers")
    assert "OK" in answers
    assert "docker" in answers
    assert "x86_64" in answers
    assert "OK" in line(out, name, "image x86_64")
    assert "runs as x86_64 (natively)" in line(out, name, "image x86_64")
    # The arm64 image is on this machine's daemon, not on the builder: a warning, not pulled.
    missing = line(out, name, "image aarch64")
    assert "WARN" in missing
    assert "is not on this builder" in missing
    assert second.docker("image", "inspect", FIXTURE_IMAGE_ARM64, check=False).returncode != 0
    # Without the client certificates: one failure naming what is missing, nothing asked.
    empty = tmp_path / "no-certs"
    empty.mkdir()
    r = doctor(project, {**env, "DOCKER_CERT_PATH": str(empty)})
    assert r.returncode == 1
    tls = line(r.stdout, name, "tls")
    assert "FAIL" in tls
    assert "ca.pem, cert.pem, key.pem" in tls
    assert r.stdout.splitlines()[-1] == "doctor: 1 problem(s)"


def builders_env(second: SecondDockerd) -> dict[str, str]:
    return {
        "MANYWHEEL_BUILDERS": f"local {second.tcp_host}",
        "DOCKER_CERT_PATH": str(second.certs),
    }


def report_of(project: Path) -> dict[str, dict[str, object]]:
    data = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    return {t["identifier"]: t for t in data["targets"]}


def test_two_builders_build_the_same_wheels_as_one(
    second: SecondDockerd, example: Callable[[str], Path], tmp_path: Path
) -> None:
    """The C example's x86_64 and i686 targets (both run natively on either builder)."""
    name = second.tcp_host.removeprefix("tcp://")
    spread = example("c-extension")
    # A setup-script: each builder makes the prepared environments of its own targets.
    matrix = (*PYTHONS, "--manylinux-x86_64-image", FIXTURE_IMAGE,
              "--manylinux-i686-image", FIXTURE_IMAGE_I386,
              "--setup-script", "touch /etc/mw-prepared")  # fmt: skip
    env = {**builders_env(second), "MANYWHEEL_CACHE_DIR": str(tmp_path / "cache")}
    stale = stale_volume(tmp_path / "cache", second.docker)
    r = manywheel(spread, "docker", *matrix, env=env, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"removed the cache volumes of projects no build used for 30 days: {stale}" in r.stderr
    built_on = {ident: t.get("builder") for ident, t in report_of(spread).items()}
    assert len(built_on) == 6
    assert set(built_on.values()) == {"local", name}, built_on  # both builders were used
    # The summary says it too: a builder column.
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.strip()}
    assert rows["target"][-1] == "builder"
    for ident, builder in built_on.items():
        assert rows[ident][-1] == builder
    assert len(wheels(spread)) == 6
    # Nothing is left on either daemon but the builder's cache volume (the project's
    # downloads there: this machine's are in the cache folder), which cache clean removes.
    assert leftover_containers("docker", spread) == []
    assert second.docker("ps", "-aq").stdout.split() == []
    prepared = second.docker("images", "-q", "--filter", "reference=localhost/manywheel-env")
    assert prepared.stdout.split(), "no prepared environment made on the second builder"
    cache_volume_cleaned(spread, env, second.docker)
    same_wheels_alone(spread, tmp_path, "docker", *matrix)


def test_ctrl_c_removes_the_containers_on_every_builder(
    second: SecondDockerd, example: Callable[[str], Path]
) -> None:
    ctrl_c_removes_the_containers_everywhere(
        example("scripted"), "docker", builders_env(second), second.docker
    )


def test_a_builder_over_ssh_builds_its_share(
    second: SecondDockerd, example: Callable[[str], Path], tmp_path: Path
) -> None:
    """``ssh://root@ADDRESS``: docker's client over this machine's ssh, to an sshd in front of
    the second daemon whose key may only run ``docker system dial-stdio`` there."""
    ssh_or_skip("docker")
    word = f"ssh://root@{DAEMON_IP}"
    dial = f"DOCKER_HOST={second.unix_host} exec docker system dial-stdio"
    sshd = SshServer(second.netns, DAEMON_IP, f'restrict,command="{dial}"').start()
    try:
        project = example("c-extension")
        env = {**sshd.client_environment(), "MANYWHEEL_BUILDERS": f"local {word}",
               "MANYWHEEL_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
        matrix = (*PYTHONS, "--archs", "x86_64", "--manylinux-x86_64-image", FIXTURE_IMAGE)
        r = manywheel(project, "docker", *matrix, env=env, image=None)
    finally:
        sshd.close()
    built_its_share(r, project, word, "docker", second.docker)


@contextlib.contextmanager
def sleeping_there(second: SecondDockerd, project: Path) -> Iterator[subprocess.Popen[str]]:
    """A run over both builders whose targets on the second one sleep (their containers'
    addresses are its), started there: the caller loses that builder, the run goes on."""
    env = {
        **builders_env(second),
        "MANYWHEEL_ENVIRONMENT": f"MW_SLEEP=600 MW_SLEEP_WHERE={CONTAINER_PREFIX}",
    }
    proc = start(project, "docker", "-v", *PYTHONS, env=env)
    try:
        wait_for_lines(proc, "scripted: sleeping", 1)
        assert second.docker("ps", "-q").stdout.split()
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def retried_locally(
    second: SecondDockerd, project: Path, proc: subprocess.Popen[str], err: str
) -> None:
    assert proc.returncode == 0, err
    name = second.tcp_host.removeprefix("tcp://")
    assert f": builder {name} lost (" in err
    assert "; retried on local" in err
    assert len(wheels(project)) == 3
    assert {t.get("builder") for t in report_of(project).values()} == {"local"}
    assert leftover_containers("docker", project) == []


def test_a_builder_cut_off_mid_run_is_given_up_and_its_targets_retried(
    second: SecondDockerd, example: Callable[[str], Path]
) -> None:
    """Its network goes quiet: nothing fails, the connections just hang; the heartbeat gives
    the builder up and the build it had goes to local."""
    project = example("scripted")
    try:
        with sleeping_there(second, project) as proc, second.cut_off():
            _, err = proc.communicate(timeout=300)
    finally:
        left = second.docker("ps", "-aq").stdout.split()  # what the lost builder still runs
        if left:  # (one may be going by itself by now: --rm, its client gone)
            second.docker("rm", "-f", *left, check=False)
    name = second.tcp_host.removeprefix("tcp://")
    assert f"builder {name} stopped answering (no answer to 2 pings in a row" in err
    retried_locally(second, project, proc, err)


def test_a_builder_lost_mid_run_has_its_targets_retried_on_the_other(
    second: SecondDockerd, example: Callable[[str], Path]
) -> None:
    """Last in this module: the second daemon is killed."""
    project = example("scripted")
    with sleeping_there(second, project) as proc:
        second.kill()
        _, err = proc.communicate(timeout=600)
    retried_locally(second, project, proc, err)
