"""A whole run: options -> plan -> prepared environment -> parallel targets -> dist/."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import queue
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

from ._abi3 import Coverage
from ._arch import arch_info, runs_natively
from ._builders import builder_engine, discovery, parse_builders
from ._builders.fleet import Fleet, Place, discover_builders
from ._builders.heartbeat import Heartbeat, answers
from ._builders.toolchain import ship_toolchain
from ._cache import toolchain_volume
from ._config.matrix import ImageSpec
from ._config.options import Options
from ._config.project import read_project
from ._config.sdist import unpack_sdist
from ._engines.choice import pick_backend
from ._engines.emulation import EMULATION_TIP, emulation_problem
from ._engines.host import (
    HOST_IMAGE,
    HostBackend,
    check_host_options,
    discover_host,
    host_folders_base,
    host_id,
    host_tools,
)
from ._engines.process import QUICK_TIMEOUT, ProcessRegistry
from ._engines.protocol import Backend, ContainerEngine
from ._engines.watch import EngineWatch
from ._epoch import source_date_epoch
from ._errors import ConfigError, EngineError, NothingToBuildError
from ._events import BuildStarted, Emitter, Listener, Summary, TargetDone
from ._leftovers import (
    OWNER_FILE,
    OWNER_LABEL,
    RUN_LABEL,
    reap_containers,
    remove_partial_files,
    sweep_host_folders,
    sweep_staging,
    this_process,
)
from ._lock import output_lock
from ._logs import Masker, default_log_root, latest_link
from ._manifest import Manifest, fingerprint, source_digest
from ._model import BuildImage, Plan, RunResult, Target, TargetResult
from ._nativepython import native_python
from ._nativeuv import native_uv
from ._output import check_writable, publish, staging_dir
from ._pipeline import TargetJob, run_target, test_covered
from ._plan import check_platform, discover, platform_wanted, select_targets
from ._prepare import Preparation, preparation_for, prepare_environment
from ._reproducibility import check_target
from ._runcache import RunCache
from ._schedule import (
    assign,
    core_budget,
    longest_first,
    previous_durations,
    previously_covered,
)
from ._scripts.build import venv_recipe
from ._scripts.wheel_tests import wants_tests
from ._sdist import make_sdist
from ._toolchain import CrossCompilers, CrossPlan, ToolchainError, cross_plan, zig_toolchain
from ._twinpython import TwinPythons
from ._venvcache import venv_key, venv_path
from ._zigseed import zig_seed

__all__ = ["build", "plan"]


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class _Run:
    """State shared by the steps of one run: engine, ids, labels, cleanup."""

    def __init__(self, options: Options, emitter: Emitter) -> None:
        self.options = options
        self.emitter = emitter
        self.stuck: str | None = None  # why this machine's engine was found stuck (watch)
        self.run_id = _new_run_id()
        self.registry = ProcessRegistry()
        self.cancelled = threading.Event()
        self._stops: list[threading.Event] = []  # each target's, set with `cancelled`
        self.engine: Backend | None = None
        self.labels = {RUN_LABEL: self.run_id, OWNER_LABEL: this_process().token()}
        self.log_dir = (options.log_dir or default_log_root()) / self.run_id
        self.epoch: int | None = None  # SOURCE_DATE_EPOCH of the builds (None: not reproducible)
        self.fleet: Fleet | None = None  # the builders, when `builders` names any but local
        self._fleet_opened = False
        self.cache = RunCache(options, emitter)  # released by cleanup()

    def name(self, what: str) -> str:
        return f"manywheel-{self.run_id}-{what}".replace("_", "-")

    def require_fleet(self) -> Fleet | None:
        """The builders, each asked what it is, when ``builders`` names any but this machine's
        engine; None without (every target builds with this machine's engine)."""
        if not self._fleet_opened:
            self._fleet_opened = True
            self.fleet = _open_fleet(self)
        return self.fleet

    def containers(self) -> bool:
        """Whether targets build in containers (False: host mode)."""
        return self.require_fleet() is not None or self.container_engine() is not None

    def engines(self) -> list[Backend]:
        """Every engine this run has reached: this machine's, then the other builders'."""
        found: list[Backend] = [] if self.engine is None else [self.engine]
        for engine in self.fleet.engines() if self.fleet is not None else []:
            if all(engine is not e for e in found):
                found.append(engine)
        return found

    def require_engine(self) -> Backend:
        if self.engine is None:
            self.engine = self._pick_engine()
            self.emitter.info(f"using {self.engine.name} ({self.engine.binary})")
            images = self.engine.container_engine()
            if images is not None:
                self.reap(images)
        return self.engine

    def container_engine(self) -> ContainerEngine | None:
        """The engine's image operations; None in host mode (no images, nothing prepared)."""
        return self.require_engine().container_engine()

    def reap(self, engine: ContainerEngine, where: str = "") -> None:
        """Remove the containers of manywheel runs that were killed, and say so (``where``:
        on which builder)."""
        reaped = reap_containers(engine)
        if reaped:
            pids = ", ".join(sorted({str(owner.pid) for _, owner in reaped}))
            self.emitter.warning(
                f"removed {len(reaped)} container(s){where} left by manywheel runs that were "
                f"killed (pid {pids}): " + ", ".join(name for name, _ in reaped)
            )

    def _pick_engine(self) -> Backend:
        # Its own registry (the run's tracks it too): a stuck engine's clients are stopped
        # alone, not the builders'
        own = ProcessRegistry(parent=self.registry)
        return pick_backend(
            self.options.engine, own, host=self._host_engine, fallback=self._fall_back
        )

    def _fall_back(self, e: EngineError) -> None:
        self.emitter.warning(
            f"{e.message}; building on this machine instead (host mode, with the "
            "interpreters found here). Set engine = 'docker' or 'podman' to make that an error."
        )

    def _host_engine(self) -> HostBackend:
        check_host_options(self.options)
        swept = sweep_host_folders(host_folders_base())
        if swept:
            self.emitter.warning(
                "removed the build folders of host-mode runs that were killed: "
                + ", ".join(str(p) for p in swept)
            )
        env = {}
        if self.options.ca_bundle is not None:
            ca = str(self.options.ca_bundle)
            env = {"SSL_CERT_FILE": ca, "PIP_CERT": ca, "REQUESTS_CA_BUNDLE": ca}
        return HostBackend(
            self.registry,
            cache_dir=self.cache.shared(),
            path_prefix=host_tools(self.emitter),
            env=env,
        )

    def stop_event(self) -> threading.Event:
        """An event that stops one target's job (its target is covered), and is set with the
        whole run's on cleanup."""
        event = threading.Event()
        self._stops.append(event)
        if self.cancelled.is_set():
            event.set()
        return event

    def cleanup(self) -> None:
        """Remove every container this run started; stop every child process. Bounded.
        Then the run's hold on its caches ends."""
        self.cancelled.set()
        for event in self._stops:
            event.set()
        try:
            self._sweep()
        finally:
            self.cache.close()

    def _sweep(self) -> None:
        engines = self.engines()
        if not engines:
            return
        label = f"{RUN_LABEL}={self.run_id}"

        def sweep(engine: Backend) -> None:
            with contextlib.suppress(EngineError):
                engine.remove(engine.containers(label))

        with _shielded(self.emitter):
            if len(engines) == 1:
                sweep(engines[0])
            else:  # every builder at once: a slow one does not hold the others
                with concurrent.futures.ThreadPoolExecutor(len(engines)) as pool:
                    list(pool.map(sweep, engines))
            self.registry.stop_all()


@contextlib.contextmanager
def _shielded(emitter: Emitter) -> Iterator[None]:
    """Let a second Ctrl-C (or SIGTERM) not interrupt the cleanup; say that we are on it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def patience(signum: int, frame: object) -> None:
        emitter.warning("still cleaning up containers, please wait (a few seconds at most)")

    old = {sig: signal.signal(sig, patience) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _open_fleet(run: _Run) -> Fleet | None:
    """Reach the builders ``builders`` names (None: this machine's engine alone). A builder
    that does not answer is left out, with a warning, while another answers."""
    builders = parse_builders(run.options.builders, engine=run.options.engine)
    if all(b.local for b in builders):
        return None
    found, failed = discover_builders(builders, discovery.run_client)
    if not found:
        raise failed[0][1]
    for _, e in failed:
        run.emitter.warning(f"{e.message}; left out of this run")
    places = []
    for facts in found:
        if facts.builder.local:
            engine = run.container_engine()
            if engine is None:  # auto found no engine here after all
                continue
        else:
            engine = builder_engine(facts.builder, run.registry)
            run.reap(engine, f" on builder {facts.name}")
        places.append(Place(facts, engine))
        run.emitter.info(
            f"builder {facts.name}: {facts.builder.engine} {facts.version}, {facts.arch}, "
            f"{facts.cpus} cores"
        )
    return Fleet(places)


def _ensure_image(run: _Run, engine: ContainerEngine, spec: ImageSpec) -> str:
    """The id of the image ``spec`` names, pulled first if the ``pull`` policy says so."""
    image, policy = spec.image, run.options.pull
    image_id = engine.image_id(image) if policy != "always" else None
    if image_id is None and policy != "never":
        run.emitter.info(f"pulling {image}")
        try:
            engine.pull(image, arch=spec.arch)
        except EngineError as e:
            raise EngineError(
                f"image {image} ('{spec.key}') is not available: {e.message}",
                tip="check the image name and your registry access, or build/load it locally",
            ) from None
        image_id = engine.image_id(image)
    if image_id is None:
        raise EngineError(
            f"image {image} ('{spec.key}') is not present in {engine.name} and pull is 'never'",
            tip=f"load it first ({engine.name} pull/load) or allow pulling (--pull missing)",
        )
    if spec.arch is not None:
        have, want = engine.image_arch(image), arch_info(spec.arch).oci.split("/")[1]
        if have and have != want:
            raise ConfigError(
                f"'{spec.key}' is {image}, an image for {have}, not {spec.arch} ({want})",
                tip=f"name a {spec.platform} image for {spec.key}",
            )
    return image_id


def _wanted_specs(options: Options) -> list[ImageSpec]:
    """The images whose platform ``build``/``skip``/``python`` can select anything from."""
    specs = options.image_specs()

    def selects(s: ImageSpec) -> bool:
        return (
            s.platform is None
            or platform_wanted(options, s.platform)
            or (s.policy is not None and platform_wanted(options, f"{s.policy}_{s.arch}"))
        )

    # Several images of one platform: their identifiers name their policies only as a group
    # (cp313-manylinux_2_28_x86_64), and an image named by a reference says its policy only
    # once inspected; so such a group is kept whole whenever any of it may be selected.
    platforms = [s.platform for s in specs]
    groups = {
        s.platform
        for s in specs
        if platforms.count(s.platform) > 1 and (s.policy is None or selects(s))
    }
    wanted = [s for s in specs if selects(s) or s.platform in groups]
    if not wanted:
        raise NothingToBuildError(
            "no target selected: 'build', 'skip' and 'python' exclude every platform of the "
            "matrix (" + ", ".join(s.platform or s.image for s in specs) + ")",
            tip="check 'archs', 'libc', 'build' and 'skip'",
        )
    return wanted


def _check_emulation(specs: list[ImageSpec]) -> None:
    """Fail early, with the fix, when a foreign architecture cannot run here."""
    for spec in specs:
        problem = None if spec.arch is None else emulation_problem(spec.arch)
        if problem is not None:
            raise EngineError(f"'{spec.key}': {problem}", tip=EMULATION_TIP)


def _inspect(run: _Run, engine: ContainerEngine, specs: list[ImageSpec]) -> list[BuildImage]:
    """Pull (one at a time) and discover (in parallel) every image of the run."""
    ids = [_ensure_image(run, engine, spec) for spec in specs]

    def one(i: int) -> BuildImage:
        spec = specs[i]
        name = run.name(f"discover-{i}" if len(specs) > 1 else "discover")
        facts = discover(engine, spec.image, ids[i], name, run.labels, arch=spec.arch)
        check_platform(spec, facts)
        return BuildImage(spec.image, ids[i], facts, spec.arch, spec.key, spec.policy)

    if len(specs) == 1:
        return [one(0)]
    with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:
        return list(pool.map(one, range(len(specs))))


def _inspect_on_builders(run: _Run, fleet: Fleet, specs: list[ImageSpec]) -> list[BuildImage]:
    """Pull and discover each image on the builder that runs its architecture best (this
    machine's engine among equals): the targets are known from it, and the other builders
    that get some of them check that they have the same image (``_ensure_on_builders``)."""
    where: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        place = fleet.best_for(spec.arch, prefer=lambda p: p.local)
        if place is None:
            runs = "; ".join(f"{f.name} is {f.arch}" for f in fleet.facts)
            raise EngineError(
                f"'{spec.key}': no builder runs {spec.arch} natively or emulated ({runs})",
                tip=f"add a builder that is {spec.arch}, or register QEMU for it on one "
                "(`manywheel doctor` says how)",
            )
        where.setdefault(place.name, []).append(i)
    found: dict[int, BuildImage] = {}
    for name, indexes in where.items():
        images = _inspect(run, fleet.places[name].engine, [specs[i] for i in indexes])
        found.update(zip(indexes, images, strict=True))
    return [found[i] for i in range(len(specs))]


def _route(run: _Run, targets: tuple[Target, ...], history: dict[str, float]) -> dict[str, Place]:
    """Each target's builder (``_schedule.assign``), said per builder; none without builders."""
    fleet = run.require_fleet()
    if fleet is None:
        return {}
    assignment = assign(targets, fleet.facts, history, run.options.effective_jobs)
    where: dict[str, Place] = {}
    for share in assignment.shares:
        for ident in share.targets:
            where[ident] = fleet.places[share.name]
        if share.targets:
            emulated = f", {len(share.emulated)} emulated" if share.emulated else ""
            run.emitter.info(
                f"builder {share.name}: {len(share.targets)} target(s){emulated}: "
                + ", ".join(share.targets)
            )
    return where


def _ensure_on_builders(
    run: _Run, plan_: Plan, todo: list[Target], where: dict[str, Place]
) -> None:
    """Every builder that builds ``todo`` has the image each of its targets builds in, the same
    one (its id) that was inspected: pulled there as the ``pull`` policy says."""
    seen: set[tuple[str, str]] = set()
    for t in todo:
        place, im = where[t.identifier], plan_.image_for(t)
        if (place.name, im.image_id) in seen:
            continue
        seen.add((place.name, im.image_id))
        spec = ImageSpec(im.image, im.key, arch=im.arch, policy=im.policy)
        image_id = _ensure_image(run, place.engine, spec)
        if image_id != im.image_id:
            raise EngineError(
                f"image {im.image} is {image_id[:19]} on builder {place.name}, not the "
                f"{im.image_id[:19]} its targets were planned with",
                tip="give every builder the same image: pull = 'always', or name the image by "
                "its digest (IMAGE@sha256:...)",
            )


def _make_plan(run: _Run) -> Plan:
    try:
        return _resolve(run)
    except NothingToBuildError as e:
        if not run.options.allow_empty:
            raise
        run.emitter.info(f"{e.message}; allow-empty is set, so there is nothing to do")
        return Plan((), ())


def _resolve(run: _Run) -> Plan:
    project = read_project(run.options.project_dir)
    fleet = run.require_fleet()
    if fleet is not None:
        found = _inspect_on_builders(run, fleet, _wanted_specs(run.options))
    elif (images := run.container_engine()) is None:
        engine = run.require_engine()
        facts = discover_host(engine, run.name("discover"))
        found = [BuildImage(HOST_IMAGE, host_id(facts), facts)]
        if run.options.test_command:
            run.emitter.warning(
                "host mode: tests run in a fresh venv on this machine, not in a pristine container"
            )
    else:
        specs = _wanted_specs(run.options)
        _check_emulation(specs)
        found = _inspect(run, images, specs)
    targets = select_targets(run.options, project, tuple(found), run.emitter)
    kept = tuple(
        im
        for im in found
        if any(t.image == im.image and t.platform == im.platform for t in targets)
    )
    return Plan(kept, targets)


@contextlib.contextmanager
def _session(options: Options, listener: Listener | None) -> Iterator[_Run]:
    run = _Run(options, Emitter(listener, Masker(options.secret_values())))
    for note in options.notes:
        run.emitter.warning(note)
    try:
        yield run
    finally:
        run.cleanup()


def plan(options: Options, listener: Listener | None = None) -> Plan:
    """Resolve the targets without building."""
    with _session(options, listener) as run:
        return _make_plan(run)


@dataclass
class _Environment:
    """One image of the run made ready: the preparation it needs, the key that names its
    contents (for fingerprints and venv caches), and the image its targets build in."""

    image: BuildImage
    preparation: Preparation | None
    key: str
    build_image: str = ""  # the base image, or the prepared one, once _environment ran


def _run_targets(
    run: _Run,
    targets: list[Target],
    envs: dict[str, _Environment],
    staging: Path,
    venvs: dict[str, Path],
    *,
    options_of: dict[str, Options],
    coverage: Coverage,
    held: set[str],
    cross: dict[str, CrossCompilers] | None = None,
    where: dict[str, Place] | None = None,
) -> list[TargetResult]:
    """Build ``targets`` (started in this order) in parallel; ``envs``, ``options_of``, ``cross``,
    ``where`` (the builder of each, with builders): by identifier. A target that ``coverage``
    finds covered by an earlier target's wheel is stopped (or its wheel dropped) and that
    wheel is tested on it instead; a ``held`` one (it was covered last time) starts only once
    it is known not to be covered. Each builder builds its own targets as many at once as its
    cores allow (see ``_Lane``)."""
    lanes = _lanes(run, targets, where or {})
    lane_of = {t.identifier: lanes[where[t.identifier].name if where else ""] for t in targets}
    wheels: queue.SimpleQueue[tuple[str, Path | None]] = queue.SimpleQueue()
    job_of = {
        t.identifier: TargetJob(
            engine=lane_of[t.identifier].engine,
            options=options_of[t.identifier],
            target=t,
            build_image=envs[t.identifier].build_image,
            test_image=envs[t.identifier].image.image,
            container_name=run.name(t.identifier),
            labels=run.labels,
            staging=staging,
            log_path=run.log_dir / f"{t.identifier}.log",
            core_budget=lane_of[t.identifier].budget,
            shell=envs[t.identifier].image.facts.shell,
            create_args=run.cache.mount_args(options_of[t.identifier], lane_of[t.identifier].place),
            cancelled=run.stop_event(),
            emitter=run.emitter,
            venv_cache=venvs.get(t.identifier),
            arch=envs[t.identifier].image.arch,
            epoch=run.epoch,
            on_wheel=lambda ident, wheel: wheels.put((ident, wheel)),
            settled=threading.Event(),
            cross=(cross or {}).get(t.identifier),
            emulated=_emulated(t, lane_of[t.identifier]),
        )
        for t in targets
    }
    with contextlib.ExitStack() as stack:
        for lane in lanes.values():
            lane.pool = stack.enter_context(
                concurrent.futures.ThreadPoolExecutor(lane.at_once, thread_name_prefix="manywheel")
            )
        if where and run.fleet is not None:  # a builder cut off is given up (see heartbeat)

            def lost(name: str, reason: str) -> None:
                run.emitter.warning(
                    f"builder {name} stopped answering ({reason}): giving it up; its targets "
                    "go to the other builders"
                )

            stack.enter_context(Heartbeat(run.fleet, lost))
        local = _local_engine(lanes)
        if local is not None:  # this machine's engine stuck under its builds (see watch)

            def stuck(reason: str) -> None:
                run.stuck = reason
                run.emitter.warning(
                    f"{local.name} stopped answering ({reason}): ending this run's "
                    f"{local.name} client processes (one may hold a lock the others wait for); "
                    "the targets they were building are retried once"
                )
                local.registry.stop_all(grace=1.0)

            stack.enter_context(EngineWatch(local, f"{RUN_LABEL}={run.run_id}", stuck))
        builds = _Builds(run, job_of, coverage, wheels, lanes=lanes, lane_of=lane_of)
        try:
            builds.start(targets, held)
            while builds.pending:  # short waits keep the main thread responsive to signals
                builds.step(timeout=0.25)
        except BaseException:
            with _shielded(run.emitter):  # a second Ctrl-C must not cut this short
                run.cleanup()  # containers go first (on every builder): exec calls return
                for lane in lanes.values():
                    lane.shut()
                # A worker whose `run` or exec was on its way during the sweep can still
                # start a container or a build after it: sweep until every worker returned.
                while concurrent.futures.wait(list(builds.futures), timeout=1.0).not_done:
                    run.cleanup()
            raise
    return [builds.results[t.identifier] for t in targets]


def _local_engine(lanes: dict[str, _Lane]) -> ContainerEngine | None:
    """This machine's container engine, when targets build on it (not in host mode)."""
    for lane in lanes.values():
        if lane.local:
            return lane.engine.container_engine()
    return None


def _emulated(target: Target, lane: _Lane) -> bool:
    """Whether ``target``'s containers run under QEMU on ``lane``'s machine."""
    return not runs_natively(target.arch, None if lane.place is None else lane.place.facts.arch)


@dataclass
class _Lane:
    """Where some targets build: this machine's engine (``place`` None: no builders), or a
    builder; as many at once as ``at_once`` (its own pool), each with ``budget`` cores."""

    place: Place | None
    engine: Backend
    at_once: int
    budget: int
    pool: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def name(self) -> str | None:
        return None if self.place is None else self.place.name

    @property
    def local(self) -> bool:
        """Whether its targets build on this machine's engine."""
        return self.place is None or self.place.local

    def submit(self, fn: Callable[..., TargetResult], *args: object) -> Future[TargetResult]:
        assert self.pool is not None
        return self.pool.submit(fn, *args)

    def shut(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


def _lanes(run: _Run, targets: list[Target], where: dict[str, Place]) -> dict[str, _Lane]:
    """This machine's lane (key ""), or one per builder (by name): each builder's targets at
    once as its cores allow (``effective_jobs``, ``core_budget``), so that one builder's limit
    never throttles another's; a builder with none gets as many as a retry may bring."""
    if not where:
        jobs = run.options.effective_jobs(len(targets))
        return {"": _Lane(None, run.require_engine(), jobs, core_budget(os.cpu_count() or 1, jobs))}
    assert run.fleet is not None
    lanes = {}
    for place in run.fleet.places.values():
        mine = sum(where[t.identifier] is place for t in targets)
        n = run.options.effective_jobs(mine or len(targets), place.facts.cpus)
        lanes[place.name] = _Lane(place, place.engine, n, core_budget(place.facts.cpus, n))
    return lanes


def _attempt(run: _Run, lane: _Lane, job: TargetJob) -> TargetResult:
    """One target's build on ``lane``; an engine fault there gives its builder up when the
    builder no longer answers (its other targets then move)."""
    each = check_target if job.options.check_reproducible else run_target
    result = each(job)
    result.builder = lane.name
    place, fleet = lane.place, run.fleet
    if (
        result.fault is not None
        and place is not None
        and fleet is not None
        and place.name not in fleet.lost  # (the heartbeat gave it up: no need to ask)
        and not run.cancelled.is_set()
    ):
        why = answers(place, QUICK_TIMEOUT)
        if why is not None and fleet.lose(place.name, why):
            place.engine.give_up(why)  # its other builds' clients end too: they go elsewhere
    return result


class _Builds:
    """The targets' jobs in their builders' pools, and what abi3 coverage (``_abi3``) makes of
    them: a covered target is stopped (or its wheel dropped) and the covering wheel tested on
    it; a target's own tests wait until its wheel is known to stay. With builders, a target
    whose builder failed it (an engine fault, not its build's) is retried once on another
    builder that runs its architecture, and a builder that stops answering has its targets
    that did not start yet moved too."""

    def __init__(
        self,
        run: _Run,
        job_of: dict[str, TargetJob],
        coverage: Coverage,
        wheels: queue.SimpleQueue[tuple[str, Path | None]],
        *,
        lanes: dict[str, _Lane],
        lane_of: dict[str, _Lane],
    ) -> None:
        self.run, self.job_of, self.coverage = run, job_of, coverage
        self.lanes, self.lane_of = lanes, lane_of
        self.retried: dict[str, str] = {}  # target -> the line that says where it went, and why
        self.lost_seen: set[str] = set()  # lost builders whose waiting targets were moved
        self.wheels = wheels  # (target, checked wheel or None), told by the jobs
        self.results: dict[str, TargetResult] = {}
        # future -> (target, "build" or "test": a covered target's test of the covering wheel)
        self.futures: dict[concurrent.futures.Future[TargetResult], tuple[str, str]] = {}
        self.pending: set[concurrent.futures.Future[TargetResult]] = set()
        self.reported: set[str] = set()
        self.held: list[str] = []  # not started until decided (covered last time)

    def _submit(
        self, kind: str, ident: str, future: concurrent.futures.Future[TargetResult]
    ) -> None:
        self.futures[future] = (ident, kind)
        self.pending.add(future)

    def start(self, targets: list[Target], held: set[str]) -> None:
        self.held = [t.identifier for t in targets if t.identifier in held]
        self._settle()  # the first target of each image; those an up-to-date wheel covers
        for t in targets:
            if t.identifier not in self.coverage.covered and t.identifier not in self.held:
                self._build(t.identifier)

    def _build(self, ident: str) -> None:
        lane = self.lane_of[ident]
        self._submit("build", ident, lane.submit(_attempt, self.run, lane, self.job_of[ident]))

    def _retry(self, ident: str, reason: str) -> bool:
        """Move ``ident`` to the best other builder for its architecture, once; say so. After
        this machine's engine was stuck (``EngineWatch``), a target of its fails for that:
        it is retried there once, in a container of another name (the first one may not
        be removed yet)."""
        fleet, lane = self.run.fleet, self.lane_of[ident]
        if ident in self.retried:
            return False
        job = self.job_of[ident]
        if self.run.stuck is not None and lane.local:
            self.retried[ident] = f"{ident}: {reason}, after the engine was stuck; retried"
            self.run.emitter.warning(self.retried[ident], target=ident)
            self.job_of[ident] = replace(job, container_name=job.container_name + "-again")
            self._build(ident)
            return True
        if fleet is None:
            return False
        other = fleet.best_for(job.target.arch, excluding=[lane.name])
        if other is None:
            return False
        why = (
            f"builder {lane.name} lost ({fleet.lost[str(lane.name)]})"
            if lane.name in fleet.lost
            else f"builder {lane.name} failed it ({reason})"
        )
        self.retried[ident] = f"{ident}: {why}; retried on {other.name}"
        self.run.emitter.warning(self.retried[ident], target=ident)
        moved = self.lanes[other.name]
        self.lane_of[ident] = moved
        self.job_of[ident] = replace(
            job,
            engine=moved.engine,
            core_budget=moved.budget,
            create_args=self.run.cache.mount_args(job.options, other),
            cross=None,  # made ready for the builder it was planned on: the image's compilers
            emulated=_emulated(job.target, moved),
        )
        self._build(ident)
        return True

    def _move_waiting(self) -> None:
        """A builder just lost: its targets that did not start go elsewhere (the running ones
        come back with a fault, and go then)."""
        fleet = self.run.fleet
        if fleet is None:
            return
        for name in [n for n in fleet.lost if n not in self.lost_seen]:
            self.lost_seen.add(name)
            for future, (ident, kind) in list(self.futures.items()):
                if kind == "build" and self.lane_of[ident].name == name and future.cancel():
                    self.pending.discard(future)
                    del self.futures[future]
                    if not self._retry(ident, fleet.lost[name]):  # nowhere else: it fails
                        self.results[ident] = TargetResult(
                            self.job_of[ident].target,
                            "failed",
                            error=f"builder {name} lost ({fleet.lost[name]}); no other "
                            "builder runs its architecture",
                            builder=name,
                        )
                        self.coverage.finished(ident, None)
                        _announce(self.run, self.results[ident])

    def step(self, timeout: float) -> None:
        done, _ = concurrent.futures.wait(self.pending, timeout=timeout)
        self.pending -= done
        while not self.wheels.empty():  # a build's checked wheel (before its tests)
            ident, wheel = self.wheels.get()
            if ident in self.reported:
                continue  # check-reproducible's second build: the first one's wheel counts
            self.reported.add(ident)
            if ident not in self.coverage.covered:
                self.coverage.finished(ident, wheel)
        finished = []
        for future in done:
            ident, kind = self.futures.pop(future)
            result = future.result()
            if kind == "build" and ident in self.coverage.covered:  # stopped: covered
                for own in result.wheels:
                    own.unlink(missing_ok=True)
                continue
            if kind == "build" and result.fault is not None and self._retry(ident, result.fault):
                continue
            result.retried = self.retried.get(ident)
            self.results[ident] = result
            finished.append((kind, result))
            if kind == "build" and ident not in self.reported:
                self.coverage.finished(ident, None)
        self._move_waiting()
        self._settle()
        for kind, result in finished:  # (a build that turned out covered is no news)
            if kind == "test" or result.target.identifier not in self.coverage.covered:
                _announce(self.run, result)

    def _settle(self) -> None:
        """Act on what coverage now knows: stop the covered, let the others test."""
        for target, wheel in self.coverage.settle():
            self._cover(self.job_of[target.identifier], wheel)
        for ident, job in self.job_of.items():
            if job.settled is not None and self.coverage.decided(ident):
                job.settled.set()
        for ident in [i for i in self.held if self.coverage.decided(i)]:
            self.held.remove(ident)
            if ident not in self.coverage.covered:
                self._build(ident)  # covered last time, not this time

    def _cover(self, job: TargetJob, wheel: Path) -> None:
        """``job``'s target is covered by ``wheel``: stop its build (or drop the wheel it
        made), then test ``wheel`` on it, or say it is covered."""
        ident = job.target.identifier
        if ident in self.results:  # it finished first: its own wheel goes
            for own in self.results.pop(ident).wheels:
                own.unlink(missing_ok=True)
        else:  # still building or waiting: stop it; what it made is dropped when it ends
            job.cancelled.set()
            with contextlib.suppress(EngineError):
                job.engine.remove([job.container_name, job.container_name + "-test"])
        self.run.emitter.info(f"{ident}: covered by {wheel.name}, not built")
        if wants_tests(job.options, job.target):
            tested = replace(job, cancelled=self.run.stop_event(), on_wheel=None, settled=None)
            lane = self.lane_of[ident]
            self._submit("test", ident, lane.submit(test_covered, tested, wheel))
        else:
            self.results[ident] = TargetResult(
                job.target, "covered", [wheel], covered_by=wheel.name
            )
            _announce(self.run, self.results[ident])


def _announce(run: _Run, result: TargetResult) -> None:
    run.emitter.emit(
        "target-done",
        f"{result.target.identifier}: {result.status}",
        target=result.target.identifier,
        data=TargetDone(
            result.status, result.seconds, str(result.log) if result.log else None, result.error
        ),
    )


def _skip_up_to_date(
    run: _Run, targets: tuple[Target, ...], fingerprints: dict[str, str], manifest: Manifest
) -> tuple[list[TargetResult], list[Target]]:
    """Targets whose wheel in the output folder came from identical inputs are not rebuilt."""
    fresh: list[TargetResult] = []
    todo: list[Target] = []
    for target in targets:
        wheel = (
            None
            if run.options.force or run.options.check_reproducible
            else manifest.up_to_date(target.identifier, fingerprints[target.identifier])
        )
        if wheel is None:
            todo.append(target)
        else:
            result = TargetResult(target, status="up-to-date", wheels=[wheel])
            fresh.append(result)
            _announce(run, result)
    return fresh, todo


def _environments(
    run: _Run, plan_: Plan, options_of: dict[str, Options], sources: str
) -> dict[str, _Environment]:
    """Each target's environment: its image's preparation (none in host mode) and content
    key. Targets whose preparation is the same share one (a setup-script override makes its
    targets an environment of their own)."""
    found: dict[str, _Environment] = {}
    shared: dict[tuple[str, str], _Environment] = {}
    host = not run.containers()
    for target in plan_.targets:
        im = plan_.image_for(target)
        options = options_of[target.identifier]
        prep = None if host else preparation_for(options, im.facts, im.image_id, sources)
        key = prep.key if prep is not None else im.image_id
        env = shared.setdefault(
            (im.image_id + im.platform, key), _Environment(im, prep, key, im.image)
        )
        found[target.identifier] = env
    return found


def _prepare(run: _Run, engine: ContainerEngine | None, env: _Environment, index: int) -> None:
    """Make the image the environment's targets build in with ``engine`` (a prepared image
    exists only where it was committed): the prepared one, if it needs one."""
    if env.preparation is None or engine is None:
        return  # (the run holds the preparation since _tidy_up)
    suffix = "" if index == 0 else f"-{index}"
    env.build_image = prepare_environment(
        engine,
        run.options,
        env.preparation,
        env.image.image,
        container_name=run.name("prepare" + suffix),
        run_labels=run.labels,
        log_path=run.log_dir / f"prepare{suffix}.log",
        emitter=run.emitter,
        arch=env.image.arch,
    )


def _plan_cross(
    run: _Run,
    targets: tuple[Target, ...],
    options_of: dict[str, Options],
    where: dict[str, Place] | None = None,
) -> dict[str, CrossPlan]:
    """The targets that are to compile with the cross compilers (see _toolchain), judged
    for the machine each builds on (``where``: each target's builder, with builders)."""
    containers = run.containers()
    planned = {}
    for t in targets:
        place = where[t.identifier] if where else None
        machine = None if place is None or place.local else place.facts.arch
        plan = cross_plan(options_of[t.identifier], t, containers=containers, machine=machine)
        if plan is not None:
            planned[t.identifier] = plan
    return planned


def _keys(
    run: _Run,
    targets: tuple[Target, ...] | list[Target],
    envs: dict[str, _Environment],
    options_of: dict[str, Options],
    *,
    sources: str,
    cross: dict[str, CrossPlan],
) -> tuple[dict[str, str], dict[str, Path]]:
    """Each target's fingerprint, and where its build venv is cached (none in host mode: its
    paths differ per run), both with the cross compilers it uses (``cross``, by identifier)."""
    fingerprints, venvs = {}, {}
    cache_venvs = run.options.cache_venv and run.containers()
    for t in targets:
        options, env_key = options_of[t.identifier], envs[t.identifier].key
        plan = cross.get(t.identifier)
        compilers = plan.label if plan is not None else None
        fingerprints[t.identifier] = fingerprint(
            options, t, env_key, sources, run.epoch, compilers=compilers
        )
        if cache_venvs:
            key = venv_key(options, t, env_key, venv_recipe(options), compilers)
            venvs[t.identifier] = venv_path(run.cache.root(), run.cache.namespace(), key)
    return fingerprints, venvs


def _get_ready(
    run: _Run,
    todo: list[Target],
    envs: dict[str, _Environment],
    options_of: dict[str, Options],
    *,
    sources: str,
    planned: dict[str, CrossPlan],
    where: dict[str, Place] | None = None,
) -> tuple[dict[str, CrossCompilers], dict[str, Path]]:
    """Prepare the images ``todo`` builds in, ready the cross compilers of the targets that
    plan them, and find each target's cached venv (keyed by the compilers it gets). A wheel
    keeps the fingerprint of the compilers planned for it, whichever built it (the toolchain
    could not be had, the probe failed), so that the next run does not rebuild it for that."""
    needed: dict[tuple[str, int], tuple[ContainerEngine | None, _Environment]] = {}
    for t in todo:  # with builders: on each builder that builds some of the targets
        env, place = envs[t.identifier], (where or {}).get(t.identifier)
        engine = place.engine if place is not None else run.container_engine()
        needed[(place.name if place else "", id(env))] = (engine, env)
    for index, (engine, env) in enumerate(needed.values()):
        _prepare(run, engine, env, index)
    cross = _cross_compilers(
        run,
        {t.identifier: planned[t.identifier] for t in todo if t.identifier in planned},
        envs,
        where,
        {t.identifier: t for t in todo},
    )
    used = {k: c.plan for k, c in cross.items()}
    _, venvs = _keys(run, todo, envs, options_of, sources=sources, cross=used)
    return cross, venvs


class _NativeHelpers:
    """What the emulated targets that build on this machine's engine get beside zig, each made
    once and held by the run (see _cacheprune): the native Python their frontend and auditwheel
    run on (_nativepython), a CPython of each one's version from the twin image, which compiles
    its build environment's bytecode (_twinpython), zig's seed for its image (_zigseed), and
    its image's release of uv built for this machine (_nativeuv).
    Without one (said once) that work runs as before. ``targets``, ``envs``: by identifier."""

    def __init__(
        self, run: _Run, targets: dict[str, Target], envs: dict[str, _Environment]
    ) -> None:
        self.run, self.targets, self.envs = run, targets, envs
        self._twins: TwinPythons | None = None
        self._seeds: dict[tuple[str, str], Path | None] = {}
        self._uvs: dict[str, Path | None] = {}

    @functools.cached_property
    def python(self) -> Path | None:
        """The packed Python manywheel runs on (made, or said why not, once)."""
        try:
            return native_python(self.run.cache.root())
        except ToolchainError as e:
            self.run.emitter.info(
                f"the frontend and auditwheel run emulated on the foreign targets: {e.message}"
            )
            return None

    def ready(self, cross: CrossCompilers, ident: str) -> CrossCompilers:
        """``cross`` (with the native Python) with the twin and zig's seed of target ``ident``."""
        if cross.python is not None:
            cross = replace(cross, bytecode=self._twin(ident))
        cross = replace(cross, zig_seed=self._seed(cross, ident))
        version = self.envs[ident].image.facts.uv
        if version and self.run.options.installer != "pip":  # pip: never used
            cross = replace(cross, uv=self._uv(version), uv_version=version)
        for used in (cross.root, cross.python, cross.bytecode, cross.zig_seed, cross.uv):
            if used is not None:
                self.run.cache.hold_toolchain(used)
        return cross

    def _uv(self, version: str) -> Path | None:
        """The image's release of uv for this machine (made, or said why not, once each)."""
        if version not in self._uvs:
            self._uvs[version] = None
            try:
                self._uvs[version] = native_uv(self.run.cache.root(), self.run.options, version)
            except ToolchainError as e:
                self.run.emitter.info(
                    f"uv {version} runs emulated on the foreign targets: {e.message}"
                )
        return self._uvs[version]

    def _twin(self, ident: str) -> Path | None:
        run, target = self.run, self.targets.get(ident)
        if run.engine is None or target is None:
            return None
        if self._twins is None:  # made when a target first needs it: it opens the cache folder
            name = run.name("twin")
            self._twins = TwinPythons(
                run.cache.root(), run.engine, run.options, name=name, labels=run.labels
            )
        told = target.minor in self._twins.why
        found = self._twins.find(target)
        if found is None and not told and target.minor in self._twins.why:
            run.emitter.info(
                f"the bytecode of the build environments of CPython {target.minor} is compiled "
                f"emulated: {self._twins.why[target.minor]}"
            )
        return found

    def _seed(self, cross: CrossCompilers, ident: str) -> Path | None:
        run, env, target = self.run, self.envs[ident], self.targets.get(ident)
        if run.engine is None or target is None or not cross.image_key:
            return None
        key = (cross.image_key, cross.plan.label)
        if key not in self._seeds:  # the first target of an image makes it: its probe runs
            self._seeds[key] = None
            try:
                self._seeds[key] = zig_seed(
                    run.cache.root(), run.engine, cross, image=env.build_image,
                    arch=cross.plan.arch, python=target.python, name=run.name("zig-seed"),
                    labels=run.labels, announce=lambda: run.emitter.info(
                        f"zig's seed for {env.build_image}: building the glibc stubs and"
                        f" compiler-rt of {cross.plan.label} once, for every project"
                    ),
                )  # fmt: skip
            except ToolchainError as e:
                run.emitter.info(
                    f"zig builds the glibc stubs and compiler-rt in each project: {e.message}"
                )
        return self._seeds[key]


def _cross_compilers(
    run: _Run,
    planned: dict[str, CrossPlan],
    envs: dict[str, _Environment],
    where: dict[str, Place] | None = None,
    targets: dict[str, Target] | None = None,
) -> dict[str, CrossCompilers]:
    """The toolchain of the targets that plan to cross-compile, made ready once per machine
    they build on: in the cache folder here, copied into a volume on another builder (see
    _builders.toolchain). None for those whose machine cannot have it (and a warning): they
    build with the image's compilers. Here (not on another builder), also what
    ``_NativeHelpers`` adds (``targets``: by identifier)."""
    by_place: dict[str, list[str]] = {}
    for ident in planned:
        place = where[ident] if where else None
        by_place.setdefault("" if place is None or place.local else place.name, []).append(ident)
    ready: dict[str, CrossCompilers] = {}
    helpers = _NativeHelpers(run, targets or {}, envs)

    @functools.cache  # once per architecture, its error too
    def toolchain(machine: str | None) -> tuple[Path, tuple[int, int]] | ToolchainError:
        try:
            return zig_toolchain(run.cache.root(), run.options, machine=machine)
        except ToolchainError as e:
            return e

    for name, idents in by_place.items():
        place = run.fleet.places[name] if name and run.fleet is not None else None
        try:
            made = toolchain(place.facts.arch if place is not None else None)
            if isinstance(made, ToolchainError):
                raise made
            root, newest = made
            volume, native = None, helpers.python if place is None else None
            if place is not None:
                first = idents[0]
                volume = _toolchain_volume(
                    run, place, root, envs[first].build_image, planned[first].arch
                )
        except (ToolchainError, EngineError) as e:
            where_ = f" on builder {name}" if name else ""
            run.emitter.warning(
                f"{e.message}; {', '.join(sorted(idents))} build{where_} with the image's own "
                "compilers, under emulation (cross-compilers = 'off' silences this)"
            )
            continue
        for i in idents:
            cross = CrossCompilers(planned[i], root, newest, volume, native, envs[i].key)
            ready[i] = cross if place is not None else helpers.ready(cross, i)
    return ready


def _toolchain_volume(run: _Run, place: Place, root: Path, image: str, arch: str) -> str:
    """``place``'s volume holding the toolchain folder ``root`` (a copy, made once)."""
    volume, labels = toolchain_volume(run.cache.id(), run.cache.namespace(), root.parent.name)
    places = list(run.fleet.places) if run.fleet is not None else []
    ctr = run.name(f"toolchain-{places.index(place.name) if place.name in places else 0}")
    if ship_toolchain(
        place.engine, root, volume, labels, image=image, arch=arch, container=ctr, labels=run.labels
    ):
        run.emitter.info(f"builder {place.name}: copied {root.parent.name} into volume {volume}")
    return volume


def _build_and_publish(
    run: _Run,
    targets: list[Target],
    envs: dict[str, _Environment],
    venvs: dict[str, Path],
    *,
    options_of: dict[str, Options],
    coverage: Coverage,
    held: set[str],
    sdist: Path | None = None,
    cross: dict[str, CrossCompilers] | None = None,
    where: dict[str, Place] | None = None,
) -> tuple[list[TargetResult], list[Path]]:
    """Build ``targets``, check their wheels, move the good ones (and ``sdist``, with any)
    into the output folder."""
    options = run.options
    staging = staging_dir(run.log_dir)
    try:
        results = _run_targets(
            run, targets, envs, staging, venvs,
            options_of=options_of, coverage=coverage, held=held, cross=cross, where=where,
        )  # fmt: skip
        _fail_untested(results)
        good = [r for r in results if r.status == "built"]
        kept = run.log_dir / "kept-wheels"  # not swept by later runs, unlike staging/
        files = [r.wheels[0] for r in good] + ([sdist] if sdist is not None and good else [])
        try:
            published = publish(files, options.output_dir, kept)
        except BaseException:
            with contextlib.suppress(OSError):  # else it stays as staging/, named in the error
                staging.rename(kept)
            raise
        for r in results:
            if r.status in ("built", "covered"):
                r.wheels = [options.output_dir / r.wheels[0].name]
        return results, published
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fail_untested(results: list[TargetResult]) -> None:
    """A wheel whose tests failed on a target it covers is not published: the target that
    built it fails, and so do the others it covers."""
    bad: dict[str, list[str]] = {}
    for r in results:
        if r.status == "failed" and r.covered_by:
            bad.setdefault(r.covered_by, []).append(r.target.identifier)
    for r in results:
        name = r.wheels[0].name if r.wheels else r.covered_by
        if name in bad and r.status in ("built", "covered"):
            r.status = "failed"
            r.error = f"its wheel {name} failed the tests of {', '.join(bad[name])}; not published"
            r.wheels = []


def _from_sdist(
    run: _Run,
    first: Target,
    envs: dict[str, _Environment],
    options_of: dict[str, Options],
    where: dict[str, Place],
) -> tuple[Path, dict[str, Options]]:
    """build-from-sdist: make the project's sdist (in a container of the first target's base
    image, on its builder with builders: ``where``), unpack it, and build every target from it."""
    env = envs[first.identifier]
    sdist = make_sdist(
        where[first.identifier].engine if where else run.require_engine(),
        run.options,
        env.image.image,
        first,
        name=run.name("sdist"),
        labels=run.labels,
        staging=run.log_dir / "sdist",
        log_path=run.log_dir / "sdist.log",
        emitter=run.emitter,
        arch=env.image.arch,
    )
    tree = unpack_sdist(sdist, run.log_dir / "sdist-tree")
    return sdist, {k: replace(v, project_dir=tree) for k, v in options_of.items()}


def _start_order(
    run: _Run,
    plan_: Plan,
    todo: list[Target],
    history: dict[str, float],
    where: dict[str, Place],
) -> list[Target]:
    """The order targets start in: longest expected first; with builders (``where``), as
    ``assign`` gave them to each, once each builder has checked it has their images."""
    if not where:
        return longest_first(todo, history, lambda t: not runs_natively(t.arch))
    order = {ident: i for i, ident in enumerate(where)}
    todo = sorted(todo, key=lambda t: order[t.identifier])
    _ensure_on_builders(run, plan_, todo, where)
    return todo


def _tidy_up(run: _Run, envs: Iterable[_Environment]) -> None:
    """Remove what killed runs left here: staging folders of dead runs, partial files in the
    output folder (this run holds its lock, so nobody else is writing them); say what went.
    Then prune the cache folder and the prepared images, but not those of this run's
    environments (``envs``), which it holds from now on."""
    staged = sweep_staging(run.log_dir.parent, current=run.log_dir)
    partial = remove_partial_files(run.options.output_dir)
    if staged or partial:
        gone = [str(p) for p in (*staged, *partial)]
        run.emitter.warning("removed what killed manywheel runs left: " + ", ".join(gone))
    for env in envs:
        if env.preparation is not None:
            run.cache.hold_prepared(env.preparation.key)
    # This machine's engine only if the run uses it already (a run on builders may not).
    run.cache.prune(run.engine.container_engine() if run.engine is not None else None)


def build(options: Options, listener: Listener | None = None) -> RunResult:
    """Build every selected target and move the checked wheels into ``options.output_dir``.

    Raises ``ManywheelError`` subclasses for problems that stop the whole run; target failures
    are reported in the result (``RunResult.ok``). On an interrupt (KeyboardInterrupt or any
    exception) every container is removed and the output folder is left as it was.
    """
    started = time.monotonic()
    with _session(options, listener) as run, output_lock(options.output_dir, run.emitter):
        if options.output_dir.resolve() == options.project_dir.resolve():
            raise ConfigError("output-dir must not be the project folder itself")
        plan_ = _make_plan(run)  # configuration problems surface before dist/ is created
        if not plan_.targets:  # allow-empty
            return RunResult(run.run_id, plan_, output_dir=options.output_dir)
        date = source_date_epoch(options) if options.reproducible else None
        run.epoch = date.value if date is not None else None
        check_writable(options.output_dir)
        history = previous_durations(run.log_dir.parent)  # before `latest` points at this run
        held = previously_covered(run.log_dir.parent)
        run.log_dir.mkdir(parents=True, exist_ok=True)
        (run.log_dir / OWNER_FILE).write_text(this_process().token() + "\n")
        latest_link(run.log_dir.parent, run.run_id)
        options_of = {t.identifier: options.for_target(t.identifier) for t in plan_.targets}
        for target_options in options_of.values():  # an override's secrets are secret too
            for value in target_options.secret_values():
                run.emitter.masker.add(value)
        sources = source_digest(options)
        envs = _environments(run, plan_, options_of, sources)
        _tidy_up(run, envs.values())
        where = _route(run, plan_.targets, history)
        planned = _plan_cross(run, plan_.targets, options_of, where)
        fingerprints, _ = _keys(
            run, plan_.targets, envs, options_of, sources=sources, cross=planned
        )
        manifest = Manifest(options.output_dir)
        if manifest.problem is not None:
            run.emitter.warning(manifest.problem)
        fresh, todo = _skip_up_to_date(run, plan_.targets, fingerprints, manifest)
        result = RunResult(run.run_id, plan_, output_dir=options.output_dir, log_dir=run.log_dir)
        result.source_date_epoch = run.epoch
        if todo:
            todo = _start_order(run, plan_, todo, history, where)
            if date is not None:
                run.emitter.info(f"reproducible: SOURCE_DATE_EPOCH={date.value} ({date.origin})")
            run.emitter.info(
                f"building {len(todo)} target(s): " + ", ".join(t.identifier for t in todo),
                data=BuildStarted(run.run_id, str(run.log_dir), tuple(t.identifier for t in todo)),
            )
            cross, venvs = _get_ready(
                run, todo, envs, options_of, sources=sources, planned=planned, where=where
            )
            sdist = None
            if options.build_from_sdist:
                sdist, options_of = _from_sdist(run, todo[0], envs, options_of, where)
            coverage = Coverage(
                plan_.targets,
                lambda t: (envs[t.identifier].key, t.platform),
                {r.target.identifier: r.wheels[0] for r in fresh},
            )
            built, result.published = _build_and_publish(
                run, todo, envs, venvs, options_of=options_of, coverage=coverage, held=held,
                sdist=sdist, cross=cross, where=where,
            )  # fmt: skip
            for r in built:
                if r.status in ("built", "covered"):
                    manifest.record(
                        r.target.identifier, fingerprints[r.target.identifier], r.wheels[0]
                    )
            manifest.save()
        else:
            built = []
            run.emitter.info("every target is up to date (use --force to rebuild)")
        order = {t.identifier: i for i, t in enumerate(plan_.targets)}
        result.results = sorted(fresh + built, key=lambda r: order[r.target.identifier])
        result.seconds = round(time.monotonic() - started, 2)
        run.emitter.emit("summary", "run finished", data=Summary(result))
        return result
