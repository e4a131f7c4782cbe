"""What each builder is: its engine's version, architecture, cores and the foreign
architectures it runs under QEMU, from one ``info --format '{{json .}}'`` call.

Emulation: podman's ``info`` lists ``host.emulatedArchitectures``, the platforms registered in
the server's binfmt_misc with the fix-binary flag (the ones its containers can use), so it
is known without running anything. docker's ``info`` says nothing of binfmt_misc, and the
only sure probe, a container of each foreign platform (``run --rm --platform linux/arm64
IMAGE uname -m``), costs a pull and a container start per architecture on every builder: too
much for every ``plan``. So a docker builder's emulation is *not known until tried* (doctor
checks it), except for this machine's own engine, whose kernel manywheel reads directly
(``/proc/sys/fs/binfmt_misc``, as a run does today). The scheduler sends a target to a
builder of unknown emulation only when no builder runs it natively or is known to emulate it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .._arch import ARCHS, arch_of_platform, native_arch, runs_natively
from .._engines.emulation import BINFMT_DIR, emulation_problem
from .._engines.process import ExecResult, run_quick
from .._errors import EngineError
from .endpoint import TLS_TIP, Builder, EngineKind, tls_problem
from .known_hosts import known_host_problem

__all__ = [
    "INFO",
    "BuilderFacts",
    "EngineInfo",
    "Runner",
    "Way",
    "discover_builder",
    "parse_docker_info",
    "parse_podman_info",
    "run_client",
]

# Runs an engine client: (argv, environment) -> its status and output.
Runner = Callable[[Sequence[str], Mapping[str, str]], ExecResult]
INFO = ("info", "--format", "{{json .}}")
# How a builder runs an architecture: natively, under QEMU known to be registered there,
# under QEMU not checked (docker elsewhere: not known until tried), or not at all.
Way = Literal["native", "emulated", "unchecked", "no"]
# What docker's client says when a TLS client meets a daemon that speaks plain HTTP.
_PLAIN_DAEMON = ("does not look like a TLS handshake", "HTTP response to HTTPS client")


@dataclass(frozen=True)
class BuilderFacts:
    """A builder as its engine describes itself."""

    builder: Builder  # its engine known (local with engine = auto: the one that answered)
    version: str  # the server's
    arch: str  # as wheels name it: x86_64, aarch64
    cpus: int
    emulated: frozenset[str] | None  # foreign architectures it runs under QEMU; None: unknown

    @property
    def name(self) -> str:
        return self.builder.name

    def way(self, arch: str) -> Way:
        """How this builder runs ``arch`` (i686 runs natively on x86_64, armv7l on aarch64)."""
        if runs_natively(arch, self.arch):
            return "native"
        if self.emulated is None:
            return "unchecked"
        return "emulated" if arch in self.emulated else "no"


def run_client(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
    """The runner of real runs: the client, bounded in time."""
    return run_quick(argv, env=env)


class _NoAnswer(Exception):
    """The engine's info did not describe a usable builder (the message says why)."""


def discover_builder(
    builder: Builder,
    runner: Runner,
    *,
    environ: Mapping[str, str] | None = None,
    binfmt_dir: Path = BINFMT_DIR,
) -> BuilderFacts:
    """Ask ``builder``'s engine what it is (with ``runner``; ``environ``: the user's
    environment, default this process's). The local builder of ``engine = auto`` is docker if
    it answers, else podman. EngineError names the builder, why it does not answer and how
    to see for yourself."""
    problem = tls_problem(builder)
    if problem is not None:
        raise EngineError(problem, tip=TLS_TIP)
    unknown = known_host_problem(builder)
    if unknown is not None:
        raise EngineError(unknown[0], tip=unknown[1])
    base = os.environ if environ is None else environ
    kinds: tuple[EngineKind, ...] = (builder.engine,) if builder.engine else ("docker", "podman")
    problems: list[str] = []
    for kind in kinds:
        resolved = replace(builder, engine=kind)
        result = runner(resolved.argv(*INFO), resolved.environment(base))
        try:
            facts = _facts(resolved, result)
        except _NoAnswer as e:
            problems.append(f"{kind}: {e}" if len(kinds) > 1 else str(e))
            continue
        if resolved.local and facts.emulated is None:  # this machine's kernel: read it here
            facts = replace(facts, emulated=_emulated_here(facts.arch, binfmt_dir))
        return facts
    shown = replace(builder, engine=kinds[0]).command_line(*INFO[:1])
    raise EngineError(
        f"builder {builder.name} ({builder.endpoint}) does not answer: " + "; ".join(problems),
        tip=f"`{shown}` shows the problem"
        + (
            "; ssh must log in without a prompt (your keys in ~/.ssh or ssh-agent)"
            if "ssh://" in builder.endpoint
            else ""
        ),
    )


def _facts(builder: Builder, result: ExecResult) -> BuilderFacts:
    parse = parse_docker_info if builder.engine == "docker" else parse_podman_info
    try:
        if result.returncode != 0:  # docker still prints its JSON, with ServerErrors
            raise _NoAnswer(_server_errors(result.stdout) or _last_line(result))
        info = parse(result.stdout)
    except _NoAnswer as e:
        problem = str(e)
        if builder.tls_dir is not None and any(p in problem for p in _PLAIN_DAEMON):
            problem += (
                "; that daemon does not speak TLS, and manywheel reaches a tcp:// builder other "
                "than a loopback address only with TLS (a plain port lets anyone who reaches it "
                "run containers as root there): enable TLS on it, or reach it over ssh://"
            )
        raise _NoAnswer(problem) from None
    if info.os != "linux":
        raise _NoAnswer(f"it runs {info.os or 'unknown'} containers, and wheels are built in Linux")
    return BuilderFacts(builder, info.version, native_arch(info.arch), info.cpus, info.emulated)


def _last_line(result: ExecResult) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit status {result.returncode}"


def _json(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _NoAnswer(f"its info is not JSON: {text.strip()[:200]!r}")
    return data


def _server_errors(text: str) -> str | None:
    """docker's ``ServerErrors``: why the daemon did not answer, or None."""
    try:
        errors = _json(text).get("ServerErrors")
    except _NoAnswer:
        return None
    if not isinstance(errors, list) or not errors:
        return None
    return "; ".join(str(e) for e in errors)


@dataclass(frozen=True)
class EngineInfo:
    """What an engine's ``info`` says of its server."""

    version: str
    os: str  # linux
    arch: str  # as the engine says it: x86_64 (docker: uname -m) or amd64 (podman: Go's)
    cpus: int
    emulated: frozenset[str] | None = None  # see BuilderFacts


def _described(version: object, os_type: object, arch: object, cpus: object) -> EngineInfo:
    if not isinstance(arch, str) or not arch:
        raise _NoAnswer("its info names no architecture")
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise _NoAnswer("its info gives no number of CPUs")
    return EngineInfo(str(version or "unknown"), str(os_type or ""), arch, cpus)


def parse_docker_info(text: str) -> EngineInfo:
    """``docker info --format '{{json .}}'``: ``ServerVersion``, ``OSType``, ``Architecture``
    (as ``uname -m`` says it), ``NCPU``; a daemon that did not answer leaves ``ServerErrors``.
    Nothing in it says what runs under QEMU."""
    errors = _server_errors(text)
    if errors is not None:
        raise _NoAnswer(errors)
    data = _json(text)
    return _described(
        data.get("ServerVersion"), data.get("OSType"), data.get("Architecture"), data.get("NCPU")
    )


def parse_podman_info(text: str) -> EngineInfo:
    """``podman info --format '{{json .}}'``: ``version.Version``, ``host.os``, ``host.arch``
    (as Go names it: amd64, arm64), ``host.cpus``, and ``host.emulatedArchitectures``, OCI
    platforms (linux/arm64); that is absent both when nothing is registered and from older
    podmans, so its absence leaves emulation unknown."""
    data = _json(text)
    host, version = data.get("host"), data.get("version")
    if not isinstance(host, dict):
        raise _NoAnswer("its info has no host")
    number = version.get("Version") if isinstance(version, dict) else None
    info = _described(number, host.get("os"), host.get("arch"), host.get("cpus"))
    platforms = host.get("emulatedArchitectures")
    if not isinstance(platforms, list) or not platforms:
        return info
    names = {arch_of_platform(p) for p in platforms if isinstance(p, str)}
    return replace(info, emulated=frozenset(n for n in names if n is not None))


def _emulated_here(arch: str, binfmt_dir: Path) -> frozenset[str]:
    """The foreign architectures this machine's kernel runs under QEMU (fix-binary flag)."""
    return frozenset(
        a.name
        for a in ARCHS
        if not runs_natively(a.name, arch)
        and emulation_problem(a.name, machine=arch, binfmt_dir=binfmt_dir) is None
    )
