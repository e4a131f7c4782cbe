"""The per-target pipeline: one container, one script (source, venv, requirements, build, repair)."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._engine import Engine
from ._errors import EngineError, ManywheelError
from ._events import Emitter
from ._logs import TargetLog
from ._options import Options
from ._plan import Target
from ._prepare import IN, ca_exports, pip_exports
from ._shell import export_expanding, export_literal, quote
from ._transfer import Rejected, copy_in, copy_out_wheels

__all__ = ["TargetResult", "build_script", "run_target"]

WORK = "/manywheel"
PROJECT = "/project"
WHEEL_DIR = f"{WORK}/built"
OUT_DIR = f"{WORK}/out"

# Exit codes the script uses to say which step failed.
STEP_EXIT = {30: "source", 31: "venv", 32: "requirements", 33: "build", 34: "repair"}


@dataclass
class TargetResult:
    target: Target
    status: str = "pending"  # built | failed | cancelled | up-to-date
    wheels: list[Path] = field(default_factory=list)
    error: str | None = None
    log: Path | None = None
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


def _repair_line(template: str) -> str:
    """The user's repair template with placeholders bound to shell variables."""
    return (
        template.replace("{wheel}", '"$MW_WHEEL"')
        .replace("{dest_dir}", '"$MW_DEST_DIR"')
        .replace("{plat_args}", '${MW_PLAT:+--plat "$MW_PLAT"}')
        .replace("{plat}", '"$MW_PLAT"')
    )


def build_script(
    options: Options, target: Target, marker: str, core_budget: int
) -> tuple[str, dict[str, bytes]]:
    """The script run in the target's container, and the files it needs under /manywheel/in."""
    files: dict[str, bytes] = {}
    lines = [
        "set -eu",
        "(set -o pipefail) 2>/dev/null && set -o pipefail",
        f"step() {{ printf '%s step %s\\n' {quote(marker)} \"$1\"; }}",
        'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "$2"; }',
        export_literal("MANYWHEEL_IDENTIFIER", target.identifier),
        export_literal("MANYWHEEL_PYTHON_VERSION", target.minor),
        export_literal("MANYWHEEL_WHEEL_DIR", WHEEL_DIR),
        export_literal("MANYWHEEL_JOBS", str(core_budget)),
        f"export MAKEFLAGS=-j{core_budget} CMAKE_BUILD_PARALLEL_LEVEL={core_budget} "
        f"MAX_JOBS={core_budget} NPY_NUM_BUILD_JOBS={core_budget}",
        "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1",
        *ca_exports(),
        *pip_exports(options),
        f"rm -rf {WHEEL_DIR} {OUT_DIR} && mkdir -p {WHEEL_DIR} {OUT_DIR}",
    ]
    if options.source:
        lines.append("step source")
    for entry in options.source:
        words = shlex.split(entry)
        path, args = words[0], " ".join(quote(w) for w in words[1:])
        lines += [
            f"[ -f {quote(path)} ] || fail {quote(f'source: {path} does not exist in the image (check setup-script and system-packages)')} 30",
            "set +eu; mw_rc=0",
            f". {quote(path)} {args} || mw_rc=$?",
            "set -eu",
            f'[ "$mw_rc" = 0 ] || fail "source: {path} failed (exit $mw_rc)" 30',
        ]
    lines += [export_expanding(k, v) for k, v in options.environment]
    lines += [
        "step venv",
        f"{quote(target.python)} -m venv {WORK}/venv || fail 'could not create a venv with {target.python}' 31",
        f". {WORK}/venv/bin/activate",
    ]
    to_install: list[str] = []
    if options.build_command is None:
        to_install.append("build")
    if options.build_requirements is not None:
        files["requirements.txt"] = options.build_requirements.read_bytes()
        to_install += ["-r", f"{IN}/requirements.txt"]
    if to_install:
        lines += [
            "step requirements",
            f"python -m pip install {' '.join(to_install)} || fail 'installing the build requirements failed' 32",
        ]
    lines += ["step build", f"cd {PROJECT}"]
    if options.build_command is not None:
        files["build-command.sh"] = (options.build_command + "\n").encode()
        lines.append(f'bash -e {IN}/build-command.sh || fail "build-command failed (exit $?)" 33')
    else:
        iso = "" if options.build_isolation else " --no-isolation"
        lines.append(
            f'python -m build --wheel{iso} --outdir {WHEEL_DIR} . || fail "the build failed (exit $?)" 33'
        )
    lines += [
        f"ls {WHEEL_DIR}/*.whl >/dev/null 2>&1 || fail 'the build left no wheel in {WHEEL_DIR}' 33",
        "step repair",
        f"export MW_DEST_DIR={OUT_DIR}",
        f"export MW_PLAT={quote(options.repair_plat)}"
        if options.repair_plat
        else 'export MW_PLAT="${AUDITWHEEL_PLAT:-}"',
    ]
    if options.repair_command.strip():
        files["repair.sh"] = (_repair_line(options.repair_command) + "\n").encode()
        repair = f'bash -e {IN}/repair.sh || fail "repairing $MW_WHEEL failed (exit $?)" 34'
    else:
        repair = 'cp "$MW_WHEEL" "$MW_DEST_DIR/"'
    lines += [
        f"for MW_WHEEL in {WHEEL_DIR}/*.whl; do",
        "  export MW_WHEEL",
        '  case "${MW_WHEEL##*/}" in',
        '    *-none-any.whl|*manylinux*|*musllinux*) echo "already portable: ${MW_WHEEL##*/}"; cp "$MW_WHEEL" "$MW_DEST_DIR/" ;;',
        f"    *) {repair} ;;",
        "  esac",
        "done",
        "step done",
    ]
    return "\n".join(lines) + "\n", files


def _stream(
    proc: subprocess.Popen[bytes],
    log: TargetLog,
    marker: str,
    result: TargetResult,
    emitter: Emitter,
) -> None:
    assert proc.stdout is not None
    ident = result.target.identifier
    step_started = time.monotonic()
    current = "start"
    prefix = f"{marker} step "
    for raw in iter(proc.stdout.readline, b""):
        text = raw.decode(errors="replace")
        if text.startswith(prefix):
            now = time.monotonic()
            result.steps[current] = round(now - step_started, 3)
            current, step_started = text[len(prefix) :].strip(), now
            if current != "done":
                emitter.emit("step", current, target=ident, step=current)
            log.write(f"== {current}")
            continue
        line = log.write(text)
        emitter.emit("output", line, target=ident)
    if current != "done":
        result.steps[current] = round(time.monotonic() - step_started, 3)


def run_target(
    engine: Engine,
    options: Options,
    target: Target,
    *,
    image: str,
    container_name: str,
    labels: dict[str, str],
    staging: Path,
    log_path: Path,
    core_budget: int,
    shell: str,
    cancelled: threading.Event,
    emitter: Emitter,
) -> TargetResult:
    """Build one target in its own container; never raises for a build failure."""
    result = TargetResult(target, log=log_path)
    started = time.monotonic()
    marker = "::mw-" + secrets.token_hex(8) + "::"
    script, files = build_script(options, target, marker, core_budget)
    files["build.sh"] = script.encode()
    dest = staging / target.identifier
    dest.mkdir(parents=True, exist_ok=True)
    with TargetLog(log_path, options.secret_values()) as log:
        try:
            if cancelled.is_set():
                result.status = "cancelled"
                return result
            emitter.emit("step", "starting container", target=target.identifier, step="start")
            with engine.container(
                image, container_name, labels=labels, extra_args=options.engine_args
            ) as ctr:
                copy_in(
                    engine, ctr, PROJECT, tree=options.project_dir, exclude=[options.output_dir]
                )
                copy_in(engine, ctr, IN, files=files)
                proc = engine.exec_(ctr, [shell, f"{IN}/build.sh"])
                try:
                    _stream(proc, log, marker, result, emitter)
                    code = proc.wait()
                finally:
                    engine.registry.discard(proc)
                if cancelled.is_set():
                    result.status = "cancelled"
                    return result
                if code != 0:
                    result.status = "failed"
                    step = STEP_EXIT.get(code)
                    if step is None and not engine.is_running(ctr):
                        result.error = (
                            "the container stopped during the build (killed from outside?)"
                        )
                    else:
                        result.error = f"{step or 'build'} step failed (exit {code})"
                    return result
                result.wheels, result.rejected = copy_out_wheels(engine, ctr, OUT_DIR, dest)
                for r in result.rejected:
                    log.write(f"manywheel: rejected {r.name!r} from the container: {r.reason}")
            result.status = "built"
        except (ManywheelError, OSError) as e:
            result.status = "cancelled" if cancelled.is_set() else "failed"
            msg = e.message if isinstance(e, ManywheelError) else str(e)
            result.error = msg
            log.write(f"manywheel: {msg}")
            if isinstance(e, EngineError) and not cancelled.is_set():
                result.error = f"engine error: {msg}"
        finally:
            result.seconds = round(time.monotonic() - started, 2)
            result.tail = log.tail()
    return result
