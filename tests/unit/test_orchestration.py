"""A whole run (``_run.build``) with the in-memory backend of ``fakes``: no engine."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from manywheel import _pipeline, _runcache, load_options
from manywheel import _run as run_module
from manywheel._config.options import Options
from manywheel._config.registry import DEFAULT_IMAGE
from manywheel._engines import choice
from manywheel._engines.process import ExecResult
from manywheel._engines.watch import EngineWatch
from manywheel._errors import EngineError, OutputError
from manywheel._events import Emitter, Event
from manywheel._leftovers import OWNER_LABEL, RUN_LABEL, this_process
from manywheel._manifest import Manifest
from manywheel._model import RunResult, Target
from manywheel._pipeline import TargetJob, run_target
from manywheel._prepare import PREPARED_REPO
from manywheel._run import build
from manywheel._venvcache import list_venvs, verify_venv
from tests.unit.fakes import VENV_BYTES, WAIT, Behaviour, FakeEngine

CP312 = "cp312-manylinux_x86_64"
CP313 = "cp313-manylinux_x86_64"
WHEEL312 = "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"
WHEEL313 = "demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"


@dataclass
class World:
    root: Path
    project: Path
    engine: FakeEngine
    events: list[Event]

    @property
    def dist(self) -> Path:
        return self.project / "dist"

    def options(self, **cli: object) -> Options:
        values: dict[str, object] = {"engine": "docker", **cli}
        return load_options(self.project, cli=values, environ={})

    def build(self, **cli: object) -> RunResult:
        self.events.clear()
        return build(self.options(**cli), self.events.append)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def wheels(self) -> list[str]:
        return sorted(p.name for p in self.dist.glob("*.whl") if p.is_file())


def make_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: Sequence[str] = (DEFAULT_IMAGE,)
) -> World:
    """A project (demo 1.0, one C file) and the fake engine, with ``images`` present."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    (project / "demo.c").write_text("int demo;\n")
    monkeypatch.chdir(project)  # as a user runs it (cibuildwheel's wheelhouse/ is made here)
    engine = FakeEngine(images_present=images)
    monkeypatch.setattr(choice, "detect_engine", lambda _, registry=None: engine.attach(registry))
    return World(tmp_path, project, engine, [])


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path, monkeypatch)


def _statuses(result: RunResult) -> dict[str, str]:
    return {r.target.identifier: r.status for r in result.results}


def test_a_run_builds_each_target_in_its_own_container_and_publishes(world: World) -> None:
    result = world.build()
    assert result.ok
    assert _statuses(result) == {CP312: "built", CP313: "built"}
    assert world.wheels() == [WHEEL312, WHEEL313]
    assert sorted(p.name for p in result.published) == [WHEEL312, WHEEL313]
    done = {e.target: e.data.status for e in world.kinds("target-done")}
    assert done == {CP312: "built", CP313: "built"}
    steps = [e.data.step for e in world.kinds("step") if e.target == CP312]
    assert steps == ["start", "venv", "requirements", "build", "repair"]
    assert world.kinds("summary")[0].data.result is result
    # Containers: the discovery's, then one per target; every one removed, each labelled.
    made = world.engine.made
    assert sorted(c.name for c in made[1:]) == sorted(
        f"manywheel-{result.run_id}-{t}".replace("_", "-") for t in (CP312, CP313)
    )
    assert world.engine.live == {}
    for ctr in made:
        assert ctr.labels == {RUN_LABEL: result.run_id, OWNER_LABEL: this_process().token()}
    volume = made[1].extra_args
    assert volume[0] == "--volume"
    assert volume[1].endswith(":/manywheel/cache")
    # The project came in with the script; the build venvs were saved into the cache.
    assert made[1].files["/project/demo.c"] == b"int demo;\n"
    venvs = list_venvs(world.root / "cache" / "manywheel")
    assert len(venvs) == 2
    assert all(verify_venv(v) is None and v.read_bytes() == VENV_BYTES for v in venvs)
    assert result.log_dir is not None
    assert (result.log_dir / f"{CP312}.log").is_file()
    assert not (result.log_dir / "staging").exists()


def test_a_second_run_starts_no_container_when_everything_is_up_to_date(world: World) -> None:
    world.build()
    made = len(world.engine.made)
    result = world.build()
    assert _statuses(result) == {CP312: "up-to-date", CP313: "up-to-date"}
    assert len(world.engine.made) == made  # the image's facts are remembered too
    assert any("every target is up to date" in e.message for e in world.kinds("info"))
    assert world.wheels() == [WHEEL312, WHEEL313]


def _change_sources(world: World) -> None:
    (world.project / "demo.c").write_text("int demo = 1;\n")


def _remove_wheel(world: World) -> None:
    (world.dist / WHEEL312).unlink()


def _change_wheel(world: World) -> None:
    (world.dist / WHEEL312).write_bytes(b"not the wheel that was built")


def _damage_manifest(world: World) -> None:
    Manifest(world.dist).path.write_text("{ not json")


@pytest.mark.parametrize(
    ("spoil", "cli", "rebuilt"),
    [
        (None, {"force": True}, {CP312, CP313}),
        (_change_sources, {}, {CP312, CP313}),
        (_remove_wheel, {}, {CP312}),
        (_change_wheel, {}, {CP312}),
        (_damage_manifest, {}, {CP312, CP313}),
    ],
    ids=["force", "sources-changed", "wheel-missing", "wheel-changed", "manifest-damaged"],
)
def test_the_up_to_date_skip_is_refused(
    world: World, spoil: object, cli: dict[str, object], rebuilt: set[str]
) -> None:
    world.build()
    if callable(spoil):
        spoil(world)
    result = world.build(**cli)
    assert result.ok
    assert {t for t, s in _statuses(result).items() if s == "built"} == rebuilt
    assert {t for t, s in _statuses(result).items() if s == "up-to-date"} == {
        CP312,
        CP313,
    } - rebuilt
    assert world.wheels() == [WHEEL312, WHEEL313]
    warnings = [e.message for e in world.kinds("warning")]
    if spoil is _damage_manifest:
        assert any("is not valid JSON" in w and "every target is rebuilt" in w for w in warnings)
    else:
        assert warnings == []


def test_a_damaged_cached_venv_is_removed_and_made_anew(world: World) -> None:
    world.build()
    cached = {v.name: v for v in list_venvs(world.root / "cache" / "manywheel")}
    damaged, intact = sorted(cached.values())
    damaged.write_bytes(b"X" * damaged.stat().st_size)  # same size, other bytes
    world.engine.restored.clear()
    result = world.build(force=True)
    assert result.ok
    warnings = [e for e in world.kinds("warning") if "is damaged" in e.message]
    assert len(warnings) == 1
    assert str(damaged) in warnings[0].message
    assert "sha256" in warnings[0].message
    victim = warnings[0].target
    assert isinstance(victim, str)
    # The other target restored its intact venv; the damaged one was saved anew.
    assert list(world.engine.restored) == [t for t in (CP312, CP313) if t != victim]
    assert next(iter(world.engine.restored.values())) == VENV_BYTES
    assert "tar -xf /manywheel/in/venv.tar" not in world.engine.scripts[victim]
    assert verify_venv(damaged) is None
    assert verify_venv(intact) is None


def test_a_snapshot_that_cannot_be_kept_does_not_hold_the_build(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_pipeline, "save_venv", full_disk)
    started = time.monotonic()
    result = world.build()
    assert result.ok  # a cache miss next time, nothing worse
    assert time.monotonic() - started < WAIT / 2  # the waiting script was let go at once
    assert list_venvs(world.root / "cache" / "manywheel") == []
    log = result.results[0].log
    assert log is not None
    assert "could not keep the venv in the cache" in log.read_text()


def test_a_run_holds_its_projects_caches_and_prunes_the_long_unused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = world.root / "cache" / "manywheel"
    old = "0" * 16  # another project's, unused for 31 days
    (cache / "downloads" / old).mkdir(parents=True)
    (cache / "downloads" / old / "wheel").write_bytes(b"x" * 2_000_000)
    (cache / "locks").mkdir()
    (cache / "locks" / f"{old}.lock").touch()
    then = time.time() - 31 * 24 * 3600
    os.utime(cache / "locks" / f"{old}.lock", (then, then))
    held: list[bool] = []
    real = _pipeline.run_target

    def while_building(*args: Any, **kwargs: Any) -> Any:  # is this project's lock held?
        (mine,) = [p for p in (cache / "locks").glob("*.lock")]
        with open(mine) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "run_target", while_building)
    result = world.build()
    assert result.ok
    assert held == [True, True]
    assert not (cache / "downloads" / old).exists()
    said = [e.message for e in world.kinds("info") if "no build used" in e.message]
    assert said == [
        f"removed from {cache} the cached venvs and downloads of 1 project(s) no build used "
        "for 30 days (2 MB)"
    ]
    # Released at the end; pruned at most once a day.
    (mine,) = [p for p in (cache / "locks").glob("*.lock")]
    with open(mine) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    world.build(force=True)
    assert not [e for e in world.kinds("info") if "no build used" in e.message]


def test_prepared_images_long_unused_go_but_not_the_runs_own(world: World) -> None:
    """A run holds its environment's prepared image before it prunes: its own stays however
    long unused; another that no run used for cache-keep-days goes, without force."""
    setup = {"setup-script": "echo set up"}
    assert world.build(**setup).ok
    ((_, mine, labels),) = world.engine.committed
    cache = world.root / "cache" / "manywheel"
    locks = cache / "locks" / "prepared"
    other = f"{PREPARED_REPO}:{'e' * 20}"
    world.engine.commit("ctr", other, labels)  # the same cache's, for another preparation
    then = time.time() - 31 * 24 * 3600
    for key in (mine.rpartition(":")[2], "e" * 20):
        (locks / f"{key}.lock").touch()
        os.utime(locks / f"{key}.lock", (then, then))
    assert world.build(force=True, **setup).ok  # every run prunes them (no daily stamp)
    assert world.engine.removed_images == [(other, False)]
    assert mine in world.engine.images_present
    assert len(world.engine.committed) == 2  # the run's own was not made again
    said = [e.message for e in world.kinds("info") if "prepared images" in e.message]
    assert said == [
        f"removed the prepared images no build used for 30 days, or that a newer one "
        f"replaced: {other}"
    ]


def test_a_run_that_uses_no_cache_leaves_the_cache_folder_alone(world: World) -> None:
    """No shared cache, no venv cache, nothing prepared: the cache-dir is not opened (not
    made, not checked, nothing pruned), as before prepared images were pruned."""
    other = world.root / "not-a-cache"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    off = {"shared-cache": False, "cache-venv": False, "cache-dir": str(other)}
    assert world.build(**off).ok
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_a_prune_that_fails_or_a_cache_that_cannot_be_held_does_not_fail_the_build(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(_runcache, "prune_unused", broken)
    monkeypatch.setattr(_runcache, "namespace_in_use", broken)
    result = world.build()
    assert result.ok
    said = [e.message for e in world.kinds("warning")]
    assert any(m.startswith("could not prune the cache folder ") for m in said), said
    assert any("as in use ([Errno 30] Read-only file system)" in m for m in said), said


def test_a_venv_that_restores_but_fails_is_dropped(world: World) -> None:
    world.build()
    world.engine.behaviours[CP312] = Behaviour(fail_at="venv", code=31)
    result = world.build(force=True)
    assert _statuses(result)[CP312] == "failed"
    assert CP312 in world.engine.restored
    assert len(list_venvs(world.root / "cache" / "manywheel")) == 1  # the next run remakes it


def test_wheels_are_kept_when_publishing_fails(world: World) -> None:
    world.dist.mkdir()
    (world.dist / WHEEL313).mkdir()  # a folder where a wheel goes: nothing is published
    with pytest.raises(OutputError) as caught:
        world.build()
    kept = sorted((world.root / "state" / "manywheel" / "logs").glob("2*/kept-wheels"))
    assert len(kept) == 1
    assert str(kept[0]) in (caught.value.tip or "")
    assert sorted(p.name for p in kept[0].rglob("*.whl")) == [WHEEL312, WHEEL313]
    assert not (kept[0].parent / "staging").exists()
    assert world.wheels() == []
    assert world.engine.live == {}


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (Behaviour(fail_at="build", code=33), "build step failed (exit 33)"),
        (Behaviour(fail_at="venv", code=31), "venv step failed (exit 31)"),
        (Behaviour(fail_at="requirements", code=32), "requirements step failed (exit 32)"),
        (Behaviour(fail_at="repair", code=34), "repair step failed (exit 34)"),
        (Behaviour(fail_at="build", code=2), "build step failed (exit 2)"),
        (
            Behaviour(fail_at="build", code=137, stop_container=True),
            "the container stopped during the build (killed from outside?)",
        ),
        (
            Behaviour(wheel="demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
            "wheel check failed: demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl: its tags",
        ),
    ],
    ids=["build", "venv", "requirements", "repair", "unknown-code", "container-gone", "tags"],
)
def test_a_failed_target_says_which_step_failed(
    world: World, behaviour: Behaviour, error: str
) -> None:
    world.engine.behaviours[CP313] = behaviour
    result = world.build()
    assert not result.ok
    assert _statuses(result) == {CP312: "built", CP313: "failed"}
    (failed,) = result.failed
    assert failed.error is not None
    assert failed.error.startswith(error)
    done = [e for e in world.kinds("target-done") if e.target == CP313]
    assert done[0].data.error == failed.error
    assert world.wheels() == [WHEEL312]
    assert world.engine.live == {}
    again = world.build()  # only the built one is remembered as up to date
    assert _statuses(again)[CP312] == "up-to-date"
    assert _statuses(again)[CP313] == "failed"


def test_sigint_during_the_builds_removes_every_container(world: World) -> None:
    engine = world.engine
    engine.behaviours = {t: Behaviour(hang_at="build") for t in (CP312, CP313)}

    sent: list[float] = []

    def interrupt_when_both_build() -> None:
        # generous: on a loaded machine (CI beside other builds) getting there can be slow
        deadline = time.monotonic() + 60
        while len(engine.hanging) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: KeyboardInterrupt in the main thread

    # Ctrl-C as in a terminal, even where pytest runs as a background job of a script, which
    # starts with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_when_both_build, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            world.build()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert engine.hanging == {CP312, CP313}, "both builds were to hang before the Ctrl-C"
    assert time.monotonic() - sent[0] < 8  # the hung builds were ended, not waited for
    assert engine.live == {}
    assert len(engine.made) == 3
    assert all(c.removed for c in engine.made)
    assert all(p.poll() is not None for c in engine.made for p in c.procs)
    assert not world.dist.exists() or world.wheels() == []
    assert not list((world.root / "state" / "manywheel" / "logs").glob("2*/staging"))


def test_a_stuck_engine_has_its_clients_ended_and_their_targets_retried(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = world.engine
    engine.behaviours = {CP313: Behaviour(hang_at="build")}  # its exec waits for ever
    quick = functools.partial(EngineWatch, interval=0.05, timeout=0.2, misses=2)
    monkeypatch.setattr(run_module, "EngineWatch", quick)
    answers = engine.call
    unanswered: list[list[str]] = []

    def call(args: Sequence[str], **kw: Any) -> ExecResult:
        # Stuck while that build hangs (twice, then the engine answers again).
        if args[0] == "ps" and CP313 in engine.hanging and len(unanswered) < 2:
            unanswered.append(list(args))
            engine.behaviours.pop(CP313, None)  # its next build goes through
            raise EngineError("docker ps -a did not answer within 0 s")
        return answers(args, **kw)

    monkeypatch.setattr(engine, "call", call)
    result = world.build()
    assert result.ok, result.failed
    assert _statuses(result) == {CP312: "built", CP313: "built"}
    assert world.wheels() == [WHEEL312, WHEEL313]
    assert unanswered[0][-4:-2] == ["--filter", f"{RUN_LABEL}={result.run_id}".join(["label=", ""])]
    (warned,) = [e.message for e in world.kinds("warning") if "stopped answering" in e.message]
    assert warned.startswith(
        "docker stopped answering (no answer to 2 questions in a row: docker ps -a did not "
        "answer within 0 s): ending this run's docker client processes"
    )
    (again,) = [r for r in result.results if r.target.identifier == CP313]
    assert again.retried == (
        f"{CP313}: the docker client of the build was stopped (signal 2), after the engine "
        "was stuck; retried"
    )
    names = [c.name for c in engine.made if CP313.replace("_", "-") in c.name]
    assert names[1] == names[0] + "-again"  # the first may not be gone yet
    assert engine.live == {}


@pytest.mark.parametrize(("jobs", "per_target"), [(1, 8), (2, 4)])
def test_jobs_share_the_cores(
    world: World, monkeypatch: pytest.MonkeyPatch, jobs: int, per_target: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    if jobs == 2:  # both must be building at the same time, or the barrier breaks
        meet = threading.Barrier(2)
        world.engine.behaviours = {t: Behaviour(meet=meet) for t in (CP312, CP313)}
    result = world.build(jobs=jobs)
    assert result.ok
    assert world.engine.most_running == jobs
    for script in world.engine.scripts.values():
        assert f"export MAKEFLAGS=-j{per_target} " in script
        assert f"export MANYWHEEL_JOBS={per_target}\n" in script


def test_auto_jobs_run_every_target_at_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    meet = threading.Barrier(2)
    world.engine.behaviours = {t: Behaviour(meet=meet) for t in (CP312, CP313)}
    assert world.build().ok
    assert all("export MAKEFLAGS=-j1 " in s for s in world.engine.scripts.values())


def test_a_target_cancelled_while_its_container_starts_builds_nothing(
    world: World, tmp_path: Path
) -> None:
    cancelled = threading.Event()

    class Interrupted(FakeEngine):
        @contextlib.contextmanager
        def container(
            self,
            image: str,
            name: str,
            *,
            labels: Mapping[str, str],
            extra_args: Sequence[str] = (),
            arch: str | None = None,
        ) -> Iterator[str]:
            with super().container(
                image, name, labels=labels, extra_args=extra_args, arch=arch
            ) as ctr:
                cancelled.set()  # Ctrl-C came while the engine was starting it
                yield ctr

    engine = Interrupted()
    options = world.options()
    target = Target(CP312, "3.12.4", False, "/opt/python/cp312-cp312/bin/python")
    job = TargetJob(
        engine=engine,
        options=options,
        target=target,
        build_image="img",
        test_image="img",
        container_name="manywheel-test-cp312",
        labels={},
        staging=tmp_path / "staging",
        log_path=tmp_path / "cp312.log",
        core_budget=1,
        shell="bash",
        create_args=(),
        cancelled=cancelled,
        emitter=Emitter(),
    )
    result = run_target(job)
    assert result.status == "cancelled"
    assert result.error is None
    assert [c.name for c in engine.made] == ["manywheel-test-cp312"]
    assert engine.live == {}
    assert engine.scripts == {}  # no build ran
    cancelled.set()
    assert run_target(job).status == "cancelled"  # cancelled before: not even a container
    assert len(engine.made) == 1
