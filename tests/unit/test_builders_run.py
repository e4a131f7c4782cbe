"""``build`` with builders (``_run``): targets routed to two in-memory builders, each with its
own engine and core budget; caches as volumes there; a lost builder's targets retried on the
other; cleanup on both. No engine: the builders' ``info`` and engines are fakes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence

import pytest

from manywheel import _run, load_options
from manywheel._builders import Builder, discovery
from manywheel._cache import CACHE_LABEL, PROJECT_LABEL, VOLUME_LABEL
from manywheel._cli.render import summary_lines
from manywheel._engines import choice
from manywheel._engines.process import ExecResult, ProcessRegistry
from manywheel._errors import EngineError
from manywheel._leftovers import RUN_LABEL
from manywheel._model import RunResult
from manywheel._prepare import PREPARED_REPO
from manywheel._report import report_data
from tests.unit.fakes import Behaviour, FakeEngine
from tests.unit.test_orchestration import CP312, CP313, World, make_world

FACTS4 = """\
platform manylinux_x86_64
auditwheel_plat manylinux_2_17_x86_64
pkgmgr dnf
shell bash
python /opt/python/cp310-cp310 cpython 3.10.14 0
python /opt/python/cp311-cp311 cpython 3.11.9 0
python /opt/python/cp312-cp312 cpython 3.12.4 0
python /opt/python/cp313-cp313 cpython 3.13.1 0
"""
BUILDERS = "local,docker:big"


class Remote(FakeEngine):
    """A builder's engine; ``lost``: it stops answering (its client says why)."""

    lost = False

    def call(self, args: Sequence[str], **kw: object) -> ExecResult:
        if self.lost:
            return ExecResult(1, "", "Cannot connect to the Docker daemon at tcp://big:2376\n")
        return super().call(args)


def _info(arch: str, cpus: int) -> str:
    return json.dumps(
        {"ServerVersion": "27.1", "OSType": "linux", "Architecture": arch, "NCPU": cpus}
    )


def two_builders(
    world: World, monkeypatch: pytest.MonkeyPatch, *, local_cpus: int = 2, big_cpus: int = 2
) -> Remote:
    """``big``, a docker context, beside this machine's engine (both x86_64)."""
    remote = Remote(images_present=sorted(world.engine.images_present), facts=world.engine.facts)

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        if argv[1:3] == ["--context", "big"]:
            return ExecResult(0, _info("x86_64", big_cpus), "")
        return ExecResult(0, _info("x86_64", local_cpus), "")

    def engine_of(builder: Builder, registry: ProcessRegistry) -> Remote:
        assert builder.name == "big"
        return remote.attach(registry)  # type: ignore[return-value]

    monkeypatch.setattr(discovery, "run_client", runner)
    monkeypatch.setattr(_run, "builder_engine", engine_of)
    return remote


@pytest.fixture
def world(tmp_path, monkeypatch: pytest.MonkeyPatch) -> World:  # type: ignore[no-untyped-def]
    return make_world(tmp_path, monkeypatch)


def _builders(result: RunResult) -> dict[str, str | None]:
    return {r.target.identifier: r.builder for r in result.results}


def _statuses(result: RunResult) -> dict[str, str]:
    return {r.target.identifier: r.status for r in result.results}


def test_targets_spread_over_both_builders_and_the_report_says_where(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)
    result = world.build(builders=BUILDERS)
    assert result.ok
    assert sorted(_builders(result).values()) == ["big", "local"]
    assert len(world.wheels()) == 2
    built_on = {c.name.rsplit("-", 3)[-3] for c in remote.made if "cp3" in c.name}
    assert len(built_on) == 1  # the remote built one target, in its own container
    assert remote.live == {}
    assert world.engine.live == {}
    report = {t["identifier"]: t for t in report_data(result)["targets"]}
    assert {t["builder"] for t in report.values()} == {"local", "big"}
    assert all(t["retried"] is None for t in report.values())
    lines = summary_lines(result)
    assert lines[0].split()[-1] == "builder"
    assert any(line.split()[-1] == "big" for line in lines[2:4])
    info = [e.message for e in world.events if e.kind == "info"]
    assert any(m.startswith("builder big: docker 27.1, x86_64, 2 cores") for m in info)
    assert not [e for e in world.events if e.kind == "warning"]


def test_a_run_on_remote_builders_only_needs_no_engine_here(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the cache's prune nor anything else asks for this machine's engine."""
    remote = two_builders(world, monkeypatch)

    def no_engine(*args: object, **kwargs: object) -> None:
        raise EngineError("no docker here")

    monkeypatch.setattr(choice, "detect_engine", no_engine)
    result = world.build(builders="docker:big")
    assert result.ok, [r.error for r in result.results]
    assert set(_builders(result).values()) == {"big"}
    assert not [e for e in world.events if e.kind == "warning"]
    assert remote.live == {}


def test_a_remote_builder_gets_a_volume_and_no_bind_mount(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)
    assert world.build(builders=BUILDERS).ok
    (volume,) = remote.volumes_made
    labels = remote.volumes_made[volume]
    assert volume.startswith("manywheel-cache-")
    assert labels[VOLUME_LABEL] == "downloads"
    assert volume == f"manywheel-cache-{labels[CACHE_LABEL]}-{labels[PROJECT_LABEL]}"
    for ctr in remote.made:
        if "cp3" not in ctr.name:
            continue
        assert ctr.extra_args[:2] == ("--volume", f"{volume}:/manywheel/cache")
        mounts = [a for a in ctr.extra_args if ":" in a and a.startswith("/")]
        assert mounts == []  # nothing of this machine's file system
    local = [c for c in world.engine.made if "cp3" in c.name]
    assert local
    assert all(c.extra_args[1].startswith("/") for c in local)  # the host cache folder
    assert world.engine.volumes_made == {}


def test_another_project_gets_another_volume(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = two_builders(world, monkeypatch)
    assert world.build(builders=BUILDERS).ok
    other = world.root / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    (other / "demo.c").write_text("int demo;\n")
    opts = load_options(other, cli={"engine": "docker", "builders": BUILDERS}, environ={})
    assert _run.build(opts, lambda e: None).ok
    assert len(remote.volumes_made) == 2
    assert len({v[PROJECT_LABEL] for v in remote.volumes_made.values()}) == 2
    assert len({v[CACHE_LABEL] for v in remote.volumes_made.values()}) == 1


def test_a_builders_volumes_of_long_unused_projects_go_but_none_in_use(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)
    assert world.build(builders=BUILDERS).ok
    (mine,) = remote.volumes_made
    cache_id = remote.volumes_made[mine][CACHE_LABEL]
    cache = world.root / "cache" / "manywheel"
    old, used, busy, gone = "a" * 16, "b" * 16, "c" * 16, "d" * 16
    (cache / "locks" / f"{used}.lock").touch()  # another project, used now
    for ns in (old, busy):  # unused for 31 days
        (cache / "locks" / f"{ns}.lock").touch()
        then = time.time() - 31 * 24 * 3600
        os.utime(cache / "locks" / f"{ns}.lock", (then, then))
    made = {  # gone: pruned here already (no lock, no folders)
        f"manywheel-cache-{cache_id}-{ns}": ns for ns in (old, used, busy, gone)
    }
    made[f"manywheel-toolchain-{cache_id}-{old}-zig-0.17.1-x86_64"] = old
    made[f"manywheel-cache-0ther0cache0id-{old}"] = old  # another cache folder's: not ours
    for name, ns in made.items():
        remote.volumes_made[name] = {CACHE_LABEL: name.split("-")[2], PROJECT_LABEL: ns}
    remote.volumes_in_use.add(f"manywheel-cache-{cache_id}-{busy}")
    # A prepared image of this cache on the builder, unused as long, goes with them.
    stale = f"{PREPARED_REPO}:{'e' * 20}"
    remote.commit("ctr", stale, {"manywheel.prepared": "1", CACHE_LABEL: cache_id})
    (cache / "locks" / "prepared").mkdir(parents=True, exist_ok=True)
    (cache / "locks" / "prepared" / f"{'e' * 20}.lock").touch()
    os.utime(cache / "locks" / "prepared" / f"{'e' * 20}.lock", (then, then))
    assert world.build(builders=BUILDERS, force=True).ok
    assert remote.removed_images == [(stale, False)]
    assert any(
        e.message.startswith("removed on builder big the prepared images") for e in world.events
    )
    assert sorted(remote.volumes_made) == sorted([
        mine,
        f"manywheel-cache-{cache_id}-{used}",
        f"manywheel-cache-{cache_id}-{busy}",
        f"manywheel-cache-0ther0cache0id-{old}",
    ])  # fmt: skip
    said = [e.message for e in world.events if "cache volumes" in e.message]
    assert said == [
        "builder big: removed the cache volumes of projects no build used for 30 days: "
        f"manywheel-cache-{cache_id}-{old}, manywheel-cache-{cache_id}-{gone}, "
        f"manywheel-toolchain-{cache_id}-{old}-zig-0.17.1-x86_64"
    ]
    # 0 days: kept until cache clean.
    remote.volumes_made[f"manywheel-cache-{cache_id}-{gone}"] = {CACHE_LABEL: cache_id}
    opts = world.options(builders=BUILDERS, force=True, **{"cache-keep-days": 0})
    assert _run.build(opts, lambda e: None).ok
    assert f"manywheel-cache-{cache_id}-{gone}" in remote.volumes_made


def test_each_builder_builds_as_many_at_once_as_its_own_cores_allow(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    world = make_world(tmp_path, monkeypatch)
    world.engine.facts = FACTS4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # this machine: 2 at once at most
    remote = two_builders(world, monkeypatch, local_cpus=1, big_cpus=3)
    meet = threading.Barrier(3, timeout=20)  # the remote's three, all at once
    remote.behaviours = {f"cp3{n}-manylinux_x86_64": Behaviour(meet=meet) for n in (10, 11, 12, 13)}
    result = world.build(builders=BUILDERS)
    assert result.ok, [r.error for r in result.failed]
    on = _builders(result)
    assert sorted(on.values()) == ["big", "big", "big", "local"]
    assert remote.most_running == 3
    assert all("export MAKEFLAGS=-j1 " in s for s in remote.scripts.values())
    assert all("export MAKEFLAGS=-j1 " in s for s in world.engine.scripts.values())


def test_a_lost_builders_targets_are_retried_on_the_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)

    def lose(*_: object) -> None:
        remote.lost = True

    # Whichever target the remote gets: its container vanishes mid-build, with the daemon.
    remote.behaviours = {t: Behaviour(fail_at="build", stop_container=True) for t in (CP312, CP313)}
    real_body = remote._body

    def body(ctr, command):  # type: ignore[no-untyped-def]
        lose()
        return real_body(ctr, command)

    monkeypatch.setattr(remote, "_body", body)
    result = world.build(builders=BUILDERS)
    assert result.ok, [r.error for r in result.failed]
    assert set(_builders(result).values()) == {"local"}
    assert len(world.wheels()) == 2
    (moved,) = [r for r in result.results if r.retried]
    assert moved.retried == (
        f"{moved.target.identifier}: builder big lost (Cannot connect to the Docker daemon at "
        "tcp://big:2376); retried on local"
    )
    warnings = [e.message for e in world.events if e.kind == "warning"]
    assert moved.retried in warnings
    assert moved.retried in summary_lines(result)
    report = {t["identifier"]: t for t in report_data(result)["targets"]}
    assert report[moved.target.identifier]["retried"] == moved.retried


def test_a_build_failure_is_not_retried(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = two_builders(world, monkeypatch)
    remote.behaviours = {t: Behaviour(fail_at="build", code=33) for t in (CP312, CP313)}
    result = world.build(builders=BUILDERS)
    assert not result.ok
    (failed,) = result.failed
    assert failed.builder == "big"
    assert failed.retried is None
    assert failed.error is not None
    assert failed.error.startswith("build step failed")
    assert _statuses(result)[failed.target.identifier] == "failed"
    assert len(world.engine.scripts) == 1  # the local builder built only its own target


def test_a_target_no_other_builder_takes_fails_with_its_fault(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)
    world.engine.behaviours = remote.behaviours = {
        t: Behaviour(fail_at="build", stop_container=True) for t in (CP312, CP313)
    }
    result = world.build(builders=BUILDERS)
    assert _statuses(result) == {CP312: "failed", CP313: "failed"}
    retried = [r for r in result.results if r.retried]
    assert len(retried) == 2  # each tried once elsewhere, then no more
    assert all("builder" in (r.retried or "") and "failed it" in (r.retried or "") for r in retried)


def test_ctrl_c_removes_the_containers_on_every_builder(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = two_builders(world, monkeypatch)
    hang = {t: Behaviour(hang_at="build") for t in (CP312, CP313)}
    world.engine.behaviours = remote.behaviours = hang

    def interrupt_when_both_build() -> None:
        deadline = time.monotonic() + 60
        while len(world.engine.hanging | remote.hanging) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_when_both_build, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            world.build(builders=BUILDERS)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert world.engine.hanging
    assert remote.hanging
    for engine in (world.engine, remote):
        assert engine.live == {}
        assert all(c.removed for c in engine.made)
        assert all(RUN_LABEL in c.labels for c in engine.made)
