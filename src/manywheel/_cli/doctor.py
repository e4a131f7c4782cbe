"""`manywheel doctor`: find what stops builds on this host, and say how to fix each thing."""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._arch import arch_info, native_arch, runs_natively
from .._builders import Builder, BuilderFacts, Runner, discover_builder, run_client, tls_problem
from .._builders.endpoint import TLS_TIP
from .._engines.container import QUICK_TIMEOUT, Engine
from .._engines.emulation import BINFMT_DIR, EMULATION_TIP, emulation_problem
from .._engines.process import run_quick
from .._errors import EngineError
from .._leftovers import reap_containers

__all__ = ["MACHINE", "Check", "check_builder", "diagnose"]

Status = Literal["ok", "warn", "fail", "skip"]
LOW_DISK = 5 * 1024**3
VERY_LOW_DISK = 1 * 1024**3
MACHINE = "host"  # the engine column of the checks of this machine (not of an engine)


@dataclass(frozen=True)
class Check:
    engine: str
    name: str
    status: Status
    detail: str
    fix: str = ""


def _run(args: list[str], timeout: float = QUICK_TIMEOUT) -> tuple[int, str]:
    r = run_quick(args, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).strip()


def _hard_limits() -> dict[str, int]:
    limits = {}
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(which)[1]
        limits[name] = hard if hard != resource.RLIM_INFINITY else 2**62
    return limits


def _ulimit_fix(engine: str) -> str:
    lim = _hard_limits()
    n, p = min(lim["nofile"], 16384), min(lim["nproc"], 16384)
    if engine == "podman":
        return (
            "set default_ulimits at or below this host's hard limits in "
            f"{_containers_conf()}: [containers] default_ulimits = "
            f'["nofile={n}:{n}", "nproc={p}:{p}"]'
        )
    return f"start dockerd with --default-ulimit nofile={n}:{n} --default-ulimit nproc={p}:{p}"


def _containers_conf() -> str:
    return os.environ.get("CONTAINERS_CONF", "/etc/containers/containers.conf")


def _configured_ulimits() -> list[Check]:
    """podman's default_ulimits above the hard limits make every container fail to start."""
    path = Path(_containers_conf())
    try:
        text = path.read_text()
    except OSError:
        return []
    hard = _hard_limits()
    checks = []
    for name, soft, high in re.findall(r'"(nofile|nproc)=(\d+):(\d+)"', text):
        if max(int(soft), int(high)) > hard[name]:
            checks.append(
                Check(
                    "podman",
                    "ulimits",
                    "fail",
                    f"{path} asks for {name}={soft}:{high}, above this host's hard limit "
                    f"{hard[name]}",
                    _ulimit_fix("podman"),
                )
            )
    return checks


def _explain_run_failure(engine: str, output: str) -> str:
    low = output.lower()
    if "rlimit" in low or "ulimit" in low:
        return _ulimit_fix(engine)
    if "crun" in low:
        return (
            f'install runc and set runtime = "runc" under [engine] in {_containers_conf()} '
            "(crun fails on hosts with hybrid cgroups)"
        )
    if "cgroup" in low:
        return 'the host\'s cgroup setup refuses containers; for podman try runtime = "runc"'
    if "no space left" in low:
        return f"free disk space where {engine} keeps its images"
    return f"see the message above; `{engine} run --rm IMAGE true` reproduces it"


def _disk(engine: str, label: str, path: str) -> Check:
    try:
        free = shutil.disk_usage(path).free
    except OSError as e:
        return Check(engine, f"disk ({label})", "skip", f"{path}: {e.strerror}")
    gib = free / 1024**3
    detail = f"{gib:.1f} GiB free in {path}"
    if free < VERY_LOW_DISK:
        return Check(engine, f"disk ({label})", "fail", detail, f"free space in {path}")
    if free < LOW_DISK:
        return Check(
            engine, f"disk ({label})", "warn", detail, f"builds may need more than {gib:.1f} GiB"
        )
    return Check(engine, f"disk ({label})", "ok", detail)


def _leftovers(name: str, binary: str) -> Check:
    """Containers of manywheel runs that were killed: removed here, as the next build would."""
    try:
        reaped = reap_containers(Engine(name, binary))
    except EngineError as e:
        return Check(name, "leftovers", "warn", f"could not look for leftover containers: {e}")
    if not reaped:
        return Check(name, "leftovers", "ok", "no containers left by killed manywheel runs")
    names = ", ".join(n for n, _ in reaped)
    return Check(
        name, "leftovers", "ok", f"removed {len(reaped)} container(s) left by killed runs: {names}"
    )


def _check_engine(name: str, image: str) -> list[Check]:
    binary = shutil.which(name)
    if binary is None:
        fix = (
            "apt-get install docker.io (or dnf install moby-engine)"
            if name == "docker"
            else "apt-get install podman runc"
        )
        return [Check(name, "installed", "fail", f"{name} is not on PATH", fix)]
    checks = [Check(name, "installed", "ok", binary)]
    code, out = _run([binary, "info", "--format", "{{json .}}"])
    if code != 0:
        if "permission denied" in out.lower():
            fix = "add your user to the docker group (then log in again), or use rootless podman"
            return [
                *checks,
                Check(name, "access", "fail", "permission denied on the daemon socket", fix),
            ]
        fix = (
            "start the daemon: systemctl start docker (or dockerd &)"
            if name == "docker" and "daemon" in out.lower()
            else _explain_run_failure(name, out)
        )
        return [
            *checks,
            Check(name, "answers", "fail", out.splitlines()[-1] if out else "no answer", fix),
        ]
    checks.append(Check(name, "answers", "ok", f"{name} info works"))
    checks.append(_leftovers(name, binary))
    fmt = "{{.DockerRootDir}}" if name == "docker" else "{{.Store.GraphRoot}}"
    code, root = _run([binary, "info", "--format", fmt])
    if code == 0 and root:
        checks.append(_disk(name, "image storage", root.splitlines()[-1].strip()))
    if name == "podman":
        checks += _configured_ulimits()
    code, _ = _run([binary, "image", "inspect", image])
    if code != 0:
        checks.append(
            Check(name, "image", "warn", f"{image} is not present locally",
                  f"{name} pull {image} (a build pulls it when pull = 'missing')")
        )  # fmt: skip
        return checks
    checks.append(Check(name, "image", "ok", f"{image} is present"))
    code, out = _run(
        [binary, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"], timeout=120
    )
    if code != 0:
        last = out.splitlines()[-1] if out else f"exit {code}"
        checks.append(Check(name, "run", "fail", f"a container does not start: {last}",
                            _explain_run_failure(name, out)))  # fmt: skip
    else:
        checks.append(Check(name, "run", "ok", "a container starts and runs"))
    return checks


def _emulation(arch: str, binfmt_dir: Path) -> Check:
    if runs_natively(arch):
        return Check(MACHINE, f"arch {arch}", "ok", f"runs natively on this {native_arch()}")
    problem = emulation_problem(arch, binfmt_dir=binfmt_dir)
    if problem is not None:
        return Check(MACHINE, f"arch {arch}", "fail", problem, EMULATION_TIP)
    return Check(MACHINE, f"arch {arch}", "ok", "emulated by QEMU (binfmt_misc, F flag)")


def check_builder(
    builder: Builder,
    images: Sequence[tuple[str | None, str]],
    *,
    runner: Runner = run_client,
    environ: Mapping[str, str] | None = None,
) -> list[Check]:
    """The checks of a builder other than this machine's engine (its name in the engine
    column): its TLS client certificates, whether its engine answers (version, architecture,
    cores), the architectures it runs natively or under QEMU, and for each of ``images``
    ((architecture or None for the image's own, reference) of this run) whether the builder
    has it and a container of it starts there as that architecture. Nothing is pulled: an
    image the builder lacks is a warning (a build pulls it)."""
    name = builder.name
    checks: list[Check] = []
    if builder.tls_dir is not None:
        problem = tls_problem(builder)
        if problem is not None:
            return [Check(name, "tls", "fail", problem, TLS_TIP)]
        checks.append(Check(name, "tls", "ok", f"client certificates in {builder.tls_dir}"))
    try:
        facts = discover_builder(builder, runner, environ=environ)
    except EngineError as e:
        return [*checks, Check(name, "answers", "fail", e.message, e.tip or "")]
    engine = facts.builder
    checks.append(
        Check(
            name,
            "answers",
            "ok",
            f"{engine.engine} {facts.version} at {builder.endpoint}: {facts.arch}, "
            f"{facts.cpus} CPU(s)",
        )
    )
    checks.append(Check(name, "platforms", "ok", _platforms(facts)))
    env = engine.environment(os.environ if environ is None else environ)
    for arch, image in images:
        checks += _builder_image(facts, env, arch, image, runner)
    return checks


def _platforms(facts: BuilderFacts) -> str:
    if facts.emulated is None:
        return (
            f"{facts.arch} natively; others not known until tried (its engine's info does not "
            "say what QEMU runs there: the image checks below try each architecture)"
        )
    emulated = ", ".join(sorted(facts.emulated)) or "none"
    return f"{facts.arch} natively; under QEMU: {emulated}"


def _builder_image(
    facts: BuilderFacts, env: dict[str, str], arch: str | None, image: str, runner: Runner
) -> list[Check]:
    builder = facts.builder
    name, label = builder.name, f"image {arch}" if arch else "image"
    if arch is not None and facts.way(arch) == "no":
        return [
            Check(
                name,
                label,
                "warn",
                f"runs no {arch}: its engine lists no QEMU for it (its {arch} targets go to "
                "another builder)",
                "on that host, " + EMULATION_TIP,
            )
        ]
    if runner(builder.argv("image", "inspect", image), env).returncode != 0:
        return [
            Check(
                name,
                label,
                "warn",
                f"{image} is not on this builder",
                f"`{builder.command_line('pull', image)}` (a build pulls it when pull = 'missing')",
            )
        ]
    platform: list[str] = []
    prefix: list[str] = []
    if arch is not None:
        info = arch_info(arch)
        platform = ["--platform", info.oci]
        prefix = ["linux32"] if info.bits == 32 else []
    argv = builder.argv(
        "run",
        "--rm",
        *platform,
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        shlex.join([*prefix, "uname", "-m"]),
    )
    result = runner(argv, env)
    out = (result.stdout + result.stderr).strip()
    said = out.splitlines()[-1].strip() if out else ""
    if result.returncode != 0:
        fix = _explain_run_failure(builder.engine or "docker", out)
        if "exec format error" in out.lower():
            fix = "on that host, " + EMULATION_TIP
        return [
            Check(
                name,
                label,
                "fail",
                f"a container of {image} does not start: {said or 'exit ' + str(result.returncode)}",
                fix,
            )
        ]
    if arch is not None and said != arch:
        return [
            Check(
                name,
                label,
                "fail",
                f"a container of {image} run as {arch} says uname -m = {said or '(nothing)'}",
                f"check that {image} is an image for {arch}",
            )
        ]
    way = "" if arch is None else " (natively)" if facts.way(arch) == "native" else " (under QEMU)"
    return [Check(name, label, "ok", f"{image} is there and runs as {said}{way}")]


def diagnose(
    engines: list[str],
    image: str,
    output_dir: Path,
    archs: tuple[str, ...] = (),
    *,
    binfmt_dir: Path = BINFMT_DIR,
    builders: Sequence[Builder] = (),
    images: Sequence[tuple[str | None, str]] = (),
) -> list[Check]:
    """Every check for ``engines`` with ``image`` (a container of it must start), and for
    building ``archs`` here (foreign ones need QEMU registered with the fix-binary flag);
    then each of ``builders`` other than this machine's engine, with the run's ``images``
    ((architecture, reference); default: ``image``)."""
    checks: list[Check] = []
    for name in engines:
        checks += _check_engine(name, image)
    checks += [_emulation(arch, binfmt_dir) for arch in archs]
    for builder in builders:
        if not builder.local:
            checks += check_builder(builder, images or [(None, image)])
    parent = output_dir if output_dir.exists() else output_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    checks.append(_disk(MACHINE, "output", str(parent)))
    if not os.access(parent, os.W_OK):
        checks.append(
            Check(
                MACHINE,
                "output",
                "fail",
                f"{parent} is not writable",
                "choose another --output-dir",
            )
        )
    return checks
