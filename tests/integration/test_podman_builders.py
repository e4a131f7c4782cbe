"""Podman builders for real: a second podman service on this machine (its own store, locks
and network namespace, see ``second_podman``) stands in for a remote podman machine, reached
as a podman connection (``podman:NAME``) and over ssh (``podman:ssh://...``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from manywheel._toolchain import ZIG_VERSION
from tests.conftest import FIXTURE_IMAGE, FIXTURE_IMAGE_ARM64, engine_or_skip, required_engines
from tests.integration.builders_checks import (
    PYTHONS,
    built_its_share,
    cache_volume_cleaned,
    clean_downloads,
    ctrl_c_removes_the_containers_everywhere,
    ssh_or_skip,
    stale_volume,
)
from tests.integration.helpers import leftover_containers, manywheel, wheels
from tests.integration.second_podman import SERVICE_IP, SecondPodman, second_podman_problem
from tests.integration.ssh_server import SshServer

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def second() -> Iterator[SecondPodman]:
    engine_or_skip("podman")
    problem = second_podman_problem()
    if problem is not None:
        if "podman" in required_engines():
            pytest.fail(f"a second podman service is needed for these tests: {problem}")
        pytest.skip(f"ENGINE NOT AVAILABLE, podman builders' tests skipped: {problem}")
    service = SecondPodman().start()
    try:
        service.load(FIXTURE_IMAGE)
        service.load(FIXTURE_IMAGE_ARM64)
        yield service
    finally:
        service.close()


def builders_env(second: SecondPodman) -> dict[str, str]:
    return {**second.client_environment(), "MANYWHEEL_BUILDERS": f"local podman:{second.name}"}


def built_on(project: Path) -> dict[str, object]:
    data = json.loads((project.parent / "logs" / "latest" / "report.json").read_text())
    return {t["identifier"]: t.get("builder") for t in data["targets"]}


def test_a_podman_builder_builds_its_share_of_the_same_wheels(
    second: SecondPodman, example: Callable[[str], Path], tmp_path: Path
) -> None:
    spread = example("c-extension")
    # A setup-script: each builder makes the prepared environments of its own targets.
    matrix = (*PYTHONS, "--archs", "x86_64", "--manylinux-x86_64-image", FIXTURE_IMAGE,
              "--setup-script", "touch /etc/mw-prepared")  # fmt: skip
    env = {**builders_env(second), "MANYWHEEL_CACHE_DIR": str(tmp_path / "cache")}
    stale = stale_volume(tmp_path / "cache", second.podman)
    r = manywheel(spread, "podman", *matrix, env=env, image=None)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"removed the cache volumes of projects no build used for 30 days: {stale}" in r.stderr
    assert f"builder {second.name}: podman " in r.stderr
    where = built_on(spread)
    assert len(where) == 3
    assert set(where.values()) == {"local", second.name}, where  # both builders were used
    assert len(wheels(spread)) == 3
    # Nothing is left on either engine but the service's cache volume (the project's
    # downloads there: this machine's are in the cache folder), which cache clean removes.
    assert leftover_containers("podman", spread) == []
    assert second.podman("ps", "-aq").stdout.split() == []
    images = second.podman("images", "--format", "{{.Repository}}").stdout.split()
    assert "localhost/manywheel-env" in images, "no prepared environment made on the service"
    cache_volume_cleaned(spread, env, second.podman)
    # (That they are the wheels one engine alone builds is tested with the second dockerd.)


def test_ctrl_c_removes_the_containers_on_the_podman_builder(
    second: SecondPodman, example: Callable[[str], Path]
) -> None:
    ctrl_c_removes_the_containers_everywhere(
        example("scripted"), "podman", builders_env(second), second.podman
    )


def test_an_emulated_target_there_compiles_with_zig_from_a_volume(
    second: SecondPodman, example: Callable[[str], Path], tmp_path: Path
) -> None:
    """The C example's cp313 aarch64 target on the service alone (which runs aarch64 under
    QEMU): zig for the service's architecture goes into a volume there once, read-only in the
    build, which compiles with it; the next run finds the volume whole; cache clean removes
    it."""
    project = example("c-extension")
    args = ("--python", "3.13", "--archs", "aarch64",
            "--manylinux-aarch64-image", FIXTURE_IMAGE_ARM64)  # fmt: skip
    env = {**second.client_environment(), "MANYWHEEL_CACHE_DIR": str(tmp_path / "cache"),
           "MANYWHEEL_BUILDERS": f"podman:{second.name}"}  # fmt: skip
    before = set(second.podman("volume", "ls", "-q").stdout.split())  # other tests' caches'
    copied = f"builder {second.name}: copied zig-{ZIG_VERSION}-x86_64 into volume"
    for again in (False, True):
        r = manywheel(project, "podman", *args, *(["--force"] if again else []), env=env,
                      image=None)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        assert (copied in r.stderr) is not again, r.stderr
        log = (project.parent / "logs" / "latest" / "cp313-manylinux_aarch64.log").read_text()
        assert f"manywheel: cross compilers: zig {ZIG_VERSION} cc -target aarch64-linux-gnu." in log
        (wheel,) = wheels(project)
        assert wheel.name.endswith("_aarch64.whl"), wheel.name
    assert leftover_containers("podman", project) == []
    assert second.podman("ps", "-aq").stdout.split() == []
    labels = second.podman("volume", "ls", "--filter", "label=manywheel.volume=toolchain", "-q")
    assert len(labels.stdout.split()) == 1, labels.stdout
    clean_downloads(project, env)
    assert set(second.podman("volume", "ls", "-q").stdout.split()) == before


def test_a_podman_builder_over_ssh_builds_its_share(
    second: SecondPodman, example: Callable[[str], Path], tmp_path: Path
) -> None:
    """``podman:ssh://root@ADDRESS/SOCKET``: podman's own ssh client (the key in
    CONTAINER_SSHKEY, the host key checked against ~/.ssh/known_hosts) through an sshd in
    front of the service whose key may forward a connection and run nothing. The word has no
    port: podman 4 refuses an ssh address without one, so manywheel writes 22."""
    ssh_or_skip("podman")
    word = f"podman:ssh://root@{SERVICE_IP}{second.socket}"
    sshd = SshServer(second.name, SERVICE_IP, 'restrict,port-forwarding,command="/bin/false"')
    sshd.start()
    try:
        project = example("c-extension")
        env = {**sshd.podman_environment(), "MANYWHEEL_BUILDERS": f"local {word}",
               "MANYWHEEL_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
        matrix = (*PYTHONS, "--archs", "x86_64", "--manylinux-x86_64-image", FIXTURE_IMAGE)
        # A host whose key ~/.ssh/known_hosts lacks is not used (podman would trust it).
        unknown = {**env, "HOME": str(tmp_path / "home")}
        plan = manywheel(project, "podman", *matrix, env=unknown, image=None, command="plan")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert f"has no key for {SERVICE_IP}, and podman's ssh client would" in plan.stderr
        r = manywheel(project, "podman", *matrix, env=env, image=None)
    finally:
        sshd.close()
    built_its_share(r, project, word, "podman", second.podman)
