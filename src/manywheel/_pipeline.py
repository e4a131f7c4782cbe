"""One target from start to finish: build (and repair) in its container, verify, test."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._config.options import Options
from ._engines.process import QUICK_TIMEOUT
from ._engines.protocol import Backend
from ._engines.transfer import Parcel, ParcelFeeder, copy_out_wheels, unpack_command
from ._errors import EngineError, ManywheelError
from ._events import Emitter, Step
from ._layout import CONTAINER, Layout
from ._logs import TargetLog
from ._model import Target, TargetResult
from ._normalize import normalize_wheel
from ._output import check_wheel
from ._scripts.build import (
    VenvCache,
    build_script,
    stream_steps,
)
from ._scripts.shell import quote
from ._scripts.steps import COPY_IN_EXIT, STEP_EXIT
from ._scripts.wheel_tests import testing_script, wants_tests
from ._toolchain import CrossCompilers
from ._venvcache import drop_venv, keep_newest, mark_used, save_venv, verify_venv

__all__ = ["TargetJob", "run_target", "test_covered"]


@dataclass(frozen=True)
class TargetJob:
    """Everything one target's pipeline needs from its run."""

    engine: Backend
    options: Options
    target: Target
    build_image: str  # the prepared environment (or the base image)
    test_image: str  # always the pristine base image
    container_name: str
    labels: dict[str, str]
    staging: Path
    log_path: Path
    core_budget: int
    shell: str
    create_args: tuple[str, ...]
    cancelled: threading.Event
    emitter: Emitter
    venv_cache: Path | None = None  # the cached venv tarball to restore, or to save after the build
    arch: str | None = None  # containers run as this architecture (None: the image's own)
    # abi3 (see _abi3): told the checked wheel (None: there is none) as soon as it is known,
    # and the tests wait until `settled` says the wheel stays (else `cancelled` is set).
    on_wheel: Callable[[str, Path | None], None] | None = None
    settled: threading.Event | None = None
    epoch: int | None = None  # SOURCE_DATE_EPOCH of a reproducible build (None: reproducible off)
    path_suffix: str = ""  # added to the work and project folders (the check's second build)
    cross: CrossCompilers | None = None  # zig, mounted read-only into the build container
    emulated: bool = False  # its containers run under QEMU (the build keeps its bytecode)

    def build_args(self) -> tuple[str, ...]:
        """The build container's arguments: the toolchain's read-only mounts, then the run's."""
        if self.cross is None:
            return self.create_args
        mounts = ["--volume", f"{self.cross.mount}:{CONTAINER.toolchain}:ro"]
        if self.cross.python is not None:
            mounts += ["--volume", f"{self.cross.python}:{CONTAINER.native}:ro"]
        if self.cross.bytecode is not None:
            mounts += ["--volume", f"{self.cross.bytecode}:{CONTAINER.twin}:ro"]
        if self.cross.zig_seed is not None:
            mounts += ["--volume", f"{self.cross.zig_seed}:{CONTAINER.zig_seed}:ro"]
        if self.cross.uv is not None:
            mounts += ["--volume", f"{self.cross.uv}:{CONTAINER.native_uv}:ro"]
        return (*mounts, *self.create_args)

    def step(self, name: str, message: str) -> None:
        self.emitter.emit("step", message, target=self.target.identifier, data=Step(name))


# How long an exec client may take to end after its script's output did (it ends at once).
EXIT_WAIT = 120.0


def _marker() -> str:
    return "::mw-" + secrets.token_hex(8) + "::"


def _run_script(
    job: TargetJob,
    ctr: str,
    layout: Layout,
    script: str,
    inbox: Mapping[str, bytes | Path],
    *,
    marker: str,
    log: TargetLog,
    result: TargetResult,
    on_snapshot: Callable[[], None] | None = None,
) -> int:
    """Copy the project and ``inbox`` in and run ``script`` (one of the inbox's files) in the
    same exec, streaming its output into the target's log: one engine round trip, not three."""
    options = job.options
    parcels = [
        Parcel(layout.project, options.project_dir, options.exclusions()),
        Parcel(layout.inbox, files=inbox),
    ]
    command = (
        f"{unpack_command(parcels)} || exit {COPY_IN_EXIT}; "
        f"exec {job.shell} {layout.inbox}/{script}"
    )
    passed = options.passed_environment()
    proc = job.engine.exec_(ctr, ["/bin/sh", "-c", command], stdin=subprocess.PIPE, env=passed)
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, parcels)
    proc.stdin = None  # the feeder owns and closes it
    feeder.start()
    try:
        last = stream_steps(proc, log, marker, result, job.emitter, on_snapshot=on_snapshot)
        code = _exit_status(job, proc, last, log)
    finally:
        job.engine.registry.discard(proc)
        feeder.join(timeout=QUICK_TIMEOUT)
    if feeder.error is not None:
        raise feeder.error
    return code


def _exit_status(job: TargetJob, proc: subprocess.Popen[bytes], last: str, log: TargetLog) -> int:
    """The exec client's exit status, once the script's output ended (so the script did). A
    client that does not end then has lost the end of its exec session: it is ended; a script
    that got to its last step (``done``) succeeded, any other is the engine's fault."""
    try:
        return proc.wait(timeout=EXIT_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=QUICK_TIMEOUT)
    said = (
        f"the {job.engine.name} exec client did not end {EXIT_WAIT:.0f} s after the script's output"
    )
    if last == "done":
        log.write(f"manywheel: {said}, which got to its end: it succeeded")
        return 0
    raise EngineError(f"{said} (its last step: {last})")


def _release(engine: Backend, ctr: str, taken: str) -> None:
    """Let a build script that waits for its venv snapshot go on (best effort: a container
    that cannot even run ``touch`` fails the build anyway)."""
    with contextlib.suppress(EngineError, OSError):
        engine.run_script(ctr, f"touch {quote(taken)}")


def _failed(job: TargetJob, ctr: str, code: int, result: TargetResult) -> None:
    result.status = "failed"
    step = STEP_EXIT.get(code)
    if code < 0 and job.engine.container_engine() is not None:
        # The engine's client died of a signal (a build that does reports 128 + N): the run
        # stopped it, its engine being stuck (see _engines.watch).
        result.error = f"the {job.engine.name} client of the build was stopped (signal {-code})"
        result.fault = result.error
    elif step is None and not job.engine.is_running(ctr):
        result.error = "the container stopped during the build (killed from outside?)"
        result.fault = result.error  # the engine's doing, not the build's
    else:
        result.error = f"{step or 'build'} step failed (exit {code})"


def _build(job: TargetJob, log: TargetLog, result: TargetResult) -> bool:
    options, engine = job.options, job.engine
    marker = _marker()
    dest = job.staging / job.target.identifier
    dest.mkdir(parents=True, exist_ok=True)
    job.step("start", "starting container")
    with engine.container(
        job.build_image,
        job.container_name,
        labels=job.labels,
        extra_args=job.build_args(),
        arch=job.arch,
    ) as ctr:
        if job.cancelled.is_set():  # interrupted while the container was starting
            return False
        layout = engine.layout(ctr).moved(job.path_suffix)
        cache = job.venv_cache
        mode: VenvCache = "off" if cache is None else "save"
        if cache is not None and cache.is_file():
            problem = verify_venv(cache)
            if problem is None:
                mode = "restore"
                mark_used(cache)
            else:
                drop_venv(cache)
                job.emitter.warning(
                    f"{job.target.identifier}: the cached venv {cache} is damaged ({problem}); "
                    "removed, making it anew",
                    target=job.target.identifier,
                )
                log.write(f"manywheel: removed the damaged cached venv {cache}: {problem}")
        script, files = build_script(
            options,
            job.target,
            marker,
            job.core_budget,
            layout,
            venv_cache=mode,
            epoch=job.epoch,
            cross=job.cross,
            emulated_image=job.build_image if job.emulated else None,
        )
        files["build.sh"] = script.encode()
        inbox: dict[str, bytes | Path] = dict(files)
        if cache is not None and mode == "restore":
            inbox["venv.tar"] = cache

        def keep_snapshot() -> None:  # the script waits, before any build code has run
            assert cache is not None
            taken = f"{layout.work}/snapshot-taken"
            try:
                save_venv(
                    engine, ctr, f"{layout.work}/venv.tar", taken, cache,
                    target=job.target.identifier,
                )  # fmt: skip
                keep_newest(cache.parent, job.target.identifier)
            except (EngineError, OSError) as e:  # a cache miss next time, nothing worse
                log.write(f"manywheel: could not keep the venv in the cache: {e}")
                _release(engine, ctr, taken)  # the script must not wait for a copy that failed

        code = _run_script(
            job,
            ctr,
            layout,
            "build.sh",
            inbox,
            marker=marker,
            log=log,
            result=result,
            on_snapshot=keep_snapshot if mode == "save" else None,
        )
        if job.cancelled.is_set():
            return False
        if code != 0:
            if cache is not None and mode == "restore" and STEP_EXIT.get(code) == "venv":
                drop_venv(cache)  # unpacks but does not work: the next run remakes it
                log.write(f"manywheel: removed the cached venv {cache}; the next run remakes it")
            _failed(job, ctr, code, result)
            return False
        result.wheels, result.rejected = copy_out_wheels(engine, ctr, layout.out, dest)
    for r in result.rejected:
        log.write(f"manywheel: rejected {r.name!r} from the container: {r.reason}")
    return True


def _normalize(job: TargetJob, log: TargetLog, result: TargetResult) -> bool:
    """Rewrite the checked wheel's archive the same way every time (``reproducible``),
    before it is tested and published."""
    if job.epoch is None:
        return True
    for wheel in result.wheels:
        try:
            normalize_wheel(wheel, job.epoch)
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            result.status = "failed"
            result.error = f"normalizing {wheel.name} failed: {e}"
            result.wheels = []
            log.write(f"manywheel: {result.error}")
            return False
        log.write(f"manywheel: normalized {wheel.name} (times from SOURCE_DATE_EPOCH={job.epoch})")
    return True


def _verify(job: TargetJob, log: TargetLog, result: TargetResult) -> bool:
    """Exactly one valid wheel whose tags fit the target; nothing else came out."""
    repaired = bool(job.options.repair_command.strip())
    problems = [f"{r.name!r}: {r.reason}" for r in result.rejected]
    good = []
    for wheel in result.wheels:
        checked = check_wheel(wheel, job.target, repaired=repaired)
        if isinstance(checked, str):
            problems.append(checked)
        else:
            good.append(wheel)
    if len(good) != 1 and not problems:
        problems.append(f"expected one wheel, got {len(good)}")
    if problems:
        result.status = "failed"
        result.error = "wheel check failed: " + "; ".join(problems)
        result.wheels = []
        log.write(f"manywheel: {result.error}")
        return False
    result.wheels = good
    return True


def _test(job: TargetJob, log: TargetLog, result: TargetResult) -> bool:
    """Install the wheel in a pristine container of the base image and run the tests there."""
    marker = _marker()
    has_ca = job.options.ca_bundle is not None
    job.step("test", "testing in a pristine container")
    with job.engine.container(
        job.test_image,
        job.container_name + "-test",
        labels=job.labels,
        extra_args=job.create_args,
        arch=job.arch,
    ) as ctr:
        layout = job.engine.layout(ctr)
        script, files = testing_script(
            job.options, job.target, result.wheels[0], marker, has_ca, layout=layout
        )
        files["test.sh"] = script.encode()
        code = _run_script(
            job, ctr, layout, "test.sh", files, marker=marker, log=log, result=result
        )
        if code != 0 and not job.cancelled.is_set():
            _failed(job, ctr, code, result)
            result.fault = None  # its wheel was told (abi3 may count on it): not retried
            result.error = f"{result.error}; its wheel {result.wheels[0].name} is not published"
            result.wheels = []
            return False
    return not job.cancelled.is_set()


def _wait_until_settled(job: TargetJob) -> bool:
    """Whether the target's own wheel stays (a wheel of an earlier target may cover it)."""
    while job.settled is not None and not job.settled.wait(0.1):
        if job.cancelled.is_set():
            break
    return not job.cancelled.is_set()


def run_target(job: TargetJob) -> TargetResult:
    """Build, verify and test one target; never raises for a failure of the target itself."""
    result = TargetResult(job.target, log=job.log_path)
    started = time.monotonic()
    told = False  # its wheel was told to the run: a later engine error is no fault to retry
    with TargetLog(job.log_path, job.options.secret_values()) as log:
        try:
            ok = (
                not job.cancelled.is_set()
                and _build(job, log, result)
                and _verify(job, log, result)
                and _normalize(job, log, result)
            )
            if job.on_wheel is not None and (ok or result.fault is None):  # a fault: retried?
                job.on_wheel(job.target.identifier, result.wheels[0] if ok else None)
            told = ok
            if ok and wants_tests(job.options, job.target):
                ok = _wait_until_settled(job) and _test(job, log, result)
            if ok:
                result.status = "built"
            elif job.cancelled.is_set():
                result.status = "cancelled"
        except (ManywheelError, OSError) as e:
            result.status = "cancelled" if job.cancelled.is_set() else "failed"
            msg = e.message if isinstance(e, ManywheelError) else str(e)
            result.error = f"engine error: {msg}" if isinstance(e, EngineError) else msg
            if isinstance(e, EngineError) and not job.cancelled.is_set() and not told:
                result.fault = log.mask(msg)
            log.write(f"manywheel: {msg}")
        finally:
            result.seconds = round(time.monotonic() - started, 2)
            result.tail = log.tail()
            if result.error:  # shown in the summary, the report and annotations
                result.error = log.mask(result.error)
    return result


def test_covered(job: TargetJob, wheel: Path) -> TargetResult:
    """A target covered by an earlier target's wheel (abi3): that wheel tested on it."""
    result = TargetResult(job.target, "covered", [wheel], log=job.log_path, covered_by=wheel.name)
    started = time.monotonic()
    with TargetLog(job.log_path, job.options.secret_values()) as log:
        log.write(f"manywheel: covered by {wheel.name}: not built, its wheel tested here")
        try:
            if not wants_tests(job.options, job.target) or _test(job, log, result):
                result.status = "covered" if not job.cancelled.is_set() else "cancelled"
            elif job.cancelled.is_set():
                result.status = "cancelled"
        except (ManywheelError, OSError) as e:
            result.status = "cancelled" if job.cancelled.is_set() else "failed"
            result.error = e.message if isinstance(e, ManywheelError) else str(e)
        finally:
            result.seconds = round(time.monotonic() - started, 2)
            result.tail = log.tail()
            if result.error:
                result.error = log.mask(result.error)
    result.wheels = [wheel] if result.status == "covered" else []
    return result
