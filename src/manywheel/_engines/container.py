"""A small, self-contained wrapper around the docker and podman command-line clients."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from .._arch import arch_info, runs_natively
from .._errors import EngineError
from .._layout import CONTAINER, Layout
from .process import QUICK_TIMEOUT, ExecResult, ProcessRegistry, spawn

__all__ = ["QUICK_TIMEOUT", "Engine", "ExecResult", "ProcessRegistry", "detect_engine"]

PULL_TIMEOUT = 1800.0
# A container of an image that is there starts in seconds, under QEMU too; one that has not
# said it runs after this is the engine's fault (a wedged engine would hold the run forever).
START_TIMEOUT = 600.0
# A container that ended before it ran: the time its client has to exit and say why.
ENDED_TIMEOUT = 30.0

# A container's main process: says it runs, then lives until its standard input closes.
LIFELINE = "echo manywheel-ready; while read -r _; do :; done"


def _wait_ready(proc: subprocess.Popen[bytes], timeout: float) -> bool | None:
    """Wait until the container's main process says it runs (False: it ended first, None:
    it said nothing within ``timeout``)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while b"manywheel-ready" not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return False
        seen = (seen + chunk)[-64:]
    return True


class Engine:
    """docker or podman, driven through its CLI: a ``ContainerEngine`` (see ``protocol``).
    Every call has a bounded wait unless noted.

    ``client_args`` and ``client_env`` say which engine the client talks to (a builder's
    ``--context NAME``, ``--url URL``, or ``DOCKER_HOST`` and its TLS variables): every call
    goes there. Without them it is this machine's engine, with this process's environment.
    ``where``: the builder's name, in messages (None: this machine's engine)."""

    def __init__(
        self,
        name: str,
        binary: str,
        registry: ProcessRegistry | None = None,
        *,
        client_args: Sequence[str] = (),
        client_env: Mapping[str, str] | None = None,
        where: str | None = None,
    ) -> None:
        self.name = name
        self.binary = binary
        self.registry = registry or ProcessRegistry()
        self.client_args = tuple(client_args)
        self.client_env = dict(client_env) if client_env is not None else None
        self.where = where
        self._lock = threading.Lock()
        self._lifelines: dict[str, subprocess.Popen[bytes]] = {}
        self._personality: dict[str, tuple[str, ...]] = {}  # container -> command prefix
        self._qemu_cpu_taken: dict[str, bool] = {}  # arch -> whether QEMU took its QEMU_CPU
        self._qemu_check = threading.Lock()  # one check at a time
        self._image_qemu_cpu: dict[str, bool] = {}  # image -> whether it sets QEMU_CPU
        self._exec_qemu_cpu: dict[str, str] = {}  # container -> its commands' QEMU_CPU
        self._given_up: str | None = None  # why this engine is no longer used (a lost builder)

    def __repr__(self) -> str:
        return (
            f"Engine({self.name!r})"
            if self.where is None
            else f"Engine({self.name!r}, {self.where!r})"
        )

    @property
    def title(self) -> str:
        """The engine, as messages name it: docker, or docker (builder NAME)."""
        return self.name if self.where is None else f"{self.name} (builder {self.where})"

    def _argv(self, args: Sequence[str]) -> list[str]:
        return [self.binary, *self.client_args, *args]

    def _environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The client's environment: the builder's (else ours), with ``extra``."""
        if self.client_env is None and not extra:
            return None
        return {**(os.environ if self.client_env is None else self.client_env), **(extra or {})}

    def container_engine(self) -> Engine:
        return self

    def layout(self, container: str) -> Layout:
        """Where a target's files live in ``container`` (the same paths in every container)."""
        return CONTAINER

    # -- plumbing -------------------------------------------------------------------------
    def popen(
        self,
        args: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        return self._spawn(
            self._argv(args), stdin=stdin, stdout=stdout, stderr=stderr, env=self._environ()
        )

    def give_up(self, reason: str) -> None:
        """Use this engine no more (a builder that stopped answering): its client processes
        are stopped (a build's exec on a hung connection would wait forever) and every later
        call fails at once with ``reason``."""
        self._given_up = reason
        self.registry.stop_all(grace=1.0)

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        stdin: int | IO[bytes] | None,
        stdout: int | IO[bytes] | None,
        stderr: int | IO[bytes] | None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        if self._given_up is not None:
            raise EngineError(f"{self.title} was given up: {self._given_up}")
        return spawn(
            self.registry, argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd
        )

    def call(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = QUICK_TIMEOUT,
        check: bool = True,
        input_bytes: bytes | None = None,
    ) -> ExecResult:
        proc = self.popen(
            args, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL
        )
        try:
            out, err = proc.communicate(input_bytes, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise EngineError(
                f"{self.title} {' '.join(args[:2])} did not answer within {timeout:.0f} s",
                tip=f"check that the {self.name} service is healthy (`manywheel doctor`)",
            ) from None
        finally:
            self.registry.discard(proc)
        result = ExecResult(
            proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"{self.title} {' '.join(args[:2])} failed (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    # -- images ---------------------------------------------------------------------------
    def image_id(self, ref: str) -> str | None:
        r = self.call(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
        return r.stdout.strip() or None if r.returncode == 0 else None

    def image_arch(self, ref: str) -> str | None:
        """The image's architecture as the engine records it (amd64, arm64, 386, ...)."""
        r = self.call(["image", "inspect", "--format", "{{.Architecture}}", ref], check=False)
        return r.stdout.strip() or None if r.returncode == 0 else None

    def image_env(self, ref: str) -> dict[str, str]:
        r = self.call(["image", "inspect", "--format", "{{json .Config.Env}}", ref])
        env: dict[str, str] = {}
        for item in json.loads(r.stdout or "null") or []:
            k, _, v = str(item).partition("=")
            env[k] = v
        return env

    def pull(self, ref: str, *, arch: str | None = None) -> None:
        self.call(["pull", *_platform(arch)[0], ref], timeout=PULL_TIMEOUT)

    def images(self, label: str) -> list[dict[str, str]]:
        """Images with ``label``: repository, tag, id, created, size (same fields on both engines)."""
        fields = ("Repository", "Tag", "ID", "CreatedSince", "Size")
        fmt = "\t".join("{{." + f + "}}" for f in fields)
        r = self.call(["images", "--filter", f"label={label}", "--format", fmt, "--no-trunc"])
        return [
            dict(zip(fields, line.split("\t"), strict=False))
            for line in r.stdout.splitlines()
            if line.strip()
        ]

    def remove_image(self, ref: str, *, force: bool = True) -> None:
        self.call(["rmi", *(["-f"] if force else []), ref], check=False)

    def commit(self, container: str, tag: str, labels: Mapping[str, str]) -> None:
        changes: list[str] = []
        for k, v in labels.items():
            changes += ["--change", f"LABEL {json.dumps(k)}={json.dumps(v)}"]
        self.call(["commit", *changes, container, tag], timeout=PULL_TIMEOUT)

    # -- volumes --------------------------------------------------------------------------
    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        """Make the named volume with ``labels`` unless it is there (made by an earlier run,
        or by another run just now)."""
        if self.call(["volume", "inspect", name], check=False).returncode == 0:
            return
        args = ["volume", "create"]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        made = self.call([*args, name], check=False)
        if made.returncode != 0 and self.call(["volume", "inspect", name], check=False).returncode:
            raise EngineError(
                f"{self.title} volume create {name} failed (exit {made.returncode}): "
                f"{made.stderr.strip() or made.stdout.strip()}"
            )

    def volumes(self, label: str) -> list[str]:
        """The names of the volumes with ``label`` (``key`` or ``key=value``)."""
        r = self.call(["volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"])
        return [n.strip() for n in r.stdout.splitlines() if n.strip()]

    def remove_volumes(self, names: Sequence[str], *, force: bool = True) -> None:
        for chunk in [list(names)] if force else [[n] for n in names]:  # one failure each
            if chunk:
                self.call(["volume", "rm", *(["-f"] if force else []), *chunk], check=False)

    # -- containers -----------------------------------------------------------------------
    def create(
        self,
        image: str,
        name: str,
        *,
        labels: Mapping[str, str],
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        arch: str | None = None,
    ) -> str:
        """Create and start the container; return once its main process runs.

        The main process waits on its standard input, which is a pipe held by this process
        (through the attached ``run -i`` client): when manywheel ends in any way, even killed,
        the pipe closes, the main process exits and ``--rm`` removes the container, so no
        container outlives its run. The work happens in exec calls; ``remove`` ends it sooner.

        ``arch``: run the image as that architecture (``--platform``; a foreign one runs under
        the kernel's QEMU). A 32-bit one runs every process under ``linux32``, so that
        ``uname -m`` says i686 (not the 64-bit kernel's x86_64) and builds tag their wheels
        for it.

        One of an architecture this machine's kernel runs under QEMU, and that has a
        ``qemu_cpu`` (aarch64), runs each exec'd command with it as ``QEMU_CPU`` (the CPU QEMU
        emulates), unless ``env``, ``extra_args`` (the user's) or the image set one. It is
        given per command, not to the container, so a container committed into an image
        leaves nothing of it there. The first such container checks that QEMU takes it (one
        ``sh -c :``): a QEMU that does not know it would fail every program, so then it is not
        used, by this container or this engine's later ones of that architecture.
        """
        self._create(image, name, labels=labels, extra_args=extra_args, env=env, arch=arch)
        qemu_cpu = self._qemu_cpu(image, arch, env, extra_args)
        if qemu_cpu is not None and arch is not None and self._qemu_takes(name, arch, qemu_cpu):
            with self._lock:
                self._exec_qemu_cpu[name] = qemu_cpu
        return name

    def _qemu_cpu(
        self,
        image: str,
        arch: str | None,
        env: Mapping[str, str] | None,
        extra_args: Sequence[str],
    ) -> str | None:
        """The QEMU_CPU for a container of ``arch``, or None."""
        if arch is None or arch_info(arch).qemu_cpu is None:
            return None
        if self.where is not None or runs_natively(arch):
            return None  # natively: nothing reads it; another builder's kernel: not known here
        if "QEMU_CPU" in (env or {}) or any("QEMU_CPU" in a for a in extra_args):
            return None
        with self._lock:
            if self._qemu_cpu_taken.get(arch) is False:
                return None
            known = self._image_qemu_cpu.get(image)
        if known is None:
            try:
                known = "QEMU_CPU" in self.image_env(image)
            except EngineError:
                known = False
            with self._lock:
                self._image_qemu_cpu[image] = known
        return None if known else arch_info(arch).qemu_cpu

    def _qemu_takes(self, name: str, arch: str, qemu_cpu: str) -> bool:
        """Whether QEMU runs ``arch``'s programs with ``qemu_cpu`` (checked once)."""
        with self._qemu_check:
            with self._lock:
                known = self._qemu_cpu_taken.get(arch)
            if known is not None:
                return known
            check = ["exec", "--env", f"QEMU_CPU={qemu_cpu}", name, *self._prefix(name)]
            try:
                taken = self.call([*check, "/bin/sh", "-c", ":"], check=False).returncode == 0
            except EngineError:  # no answer: the build finds out what is wrong
                taken = False
            with self._lock:
                self._qemu_cpu_taken[arch] = taken
            return taken

    def _create(
        self,
        image: str,
        name: str,
        *,
        labels: Mapping[str, str],
        extra_args: Sequence[str],
        env: Mapping[str, str] | None,
        arch: str | None,
    ) -> None:
        platform, prefix = _platform(arch)
        args = ["run", "-i", "--rm", "--name", name, *platform, *extra_args]
        for k, v in (env or {}).items():
            args += ["--env", f"{k}={v}"]
        for k, v in labels.items():  # after the user's arguments: manywheel's labels win
            args += ["--label", f"{k}={v}"]
        entry = [prefix[0], image, *prefix[1:], "/bin/sh"] if prefix else ["/bin/sh", image]
        args += ["--entrypoint", *entry, "-c", LIFELINE]
        proc = self.popen(args, stdin=subprocess.PIPE)
        with self._lock:
            self._lifelines[name] = proc
            self._personality[name] = prefix
        ready = _wait_ready(proc, START_TIMEOUT)
        if ready:
            return
        err: bytes | None = None
        if ready is False:  # its output ended: the client exits and says why (podman after
            with contextlib.suppress(subprocess.TimeoutExpired):  # its clean-up)
                err = proc.communicate(timeout=ENDED_TIMEOUT)[1] or b""
        late = proc.poll() is None
        self._end_lifeline(name, wait=1.0)
        if late:
            with contextlib.suppress(EngineError):  # (in case it started after all)
                self.remove([name])
            what = (
                f"ended the container before it ran, and did not exit within {ENDED_TIMEOUT:.0f} s"
                if ready is False
                else f"did not start the container within {START_TIMEOUT:.0f} s"
            )
            raise EngineError(
                f"{self.title} run {what}",
                tip=f"check that the {self.name} service is healthy (`manywheel doctor`)",
            )
        if err is None:
            err = proc.stderr.read() if proc.stderr else b""
        said = err.decode(errors="replace").strip()
        raise EngineError(
            f"{self.title} run failed (exit {proc.returncode}): {said or 'no message'}"
        )

    def _end_lifeline(self, name: str, wait: float) -> None:
        with self._lock:
            proc = self._lifelines.pop(name, None)
            self._personality.pop(name, None)
            self._exec_qemu_cpu.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)
        self.registry.discard(proc)

    def exec_(
        self,
        name: str,
        command: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.STDOUT,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        args = ["exec", "-i"] if stdin not in (None, subprocess.DEVNULL) else ["exec"]
        args += self._qemu_args(name, env)
        for k in env or {}:
            args += ["--env", k]  # value taken from our environment: never on a command line
        return self._spawn(
            self._argv([*args, name, *self._prefix(name), *command]),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=self._environ(env),
        )

    def run_script(self, name: str, script: str, *, timeout: float = QUICK_TIMEOUT) -> ExecResult:
        return self.call(
            ["exec", "-i", *self._qemu_args(name), name, *self._prefix(name), "/bin/sh", "-s"],
            timeout=timeout,
            input_bytes=script.encode(),
            check=False,
        )

    def _prefix(self, name: str) -> tuple[str, ...]:
        with self._lock:
            return self._personality.get(name, ())

    def _qemu_args(self, name: str, env: Mapping[str, str] | None = None) -> list[str]:
        """``--env QEMU_CPU=...`` for a command in ``name`` (none: a QEMU_CPU in ``env``)."""
        with self._lock:
            qemu_cpu = self._exec_qemu_cpu.get(name)
        if qemu_cpu is None or "QEMU_CPU" in (env or {}):
            return []
        return ["--env", f"QEMU_CPU={qemu_cpu}"]

    def remove(self, names: Sequence[str]) -> None:
        """Remove containers now, with the anonymous volumes an image's VOLUME lines give them:
        no stop grace period (our keep-alive process ignores SIGTERM). A name already gone
        is skipped: docker goes on with the others by itself; podman (4.3) removes none of
        them and exits 0 unless told to ignore missing ones (``--ignore``)."""
        if names:
            now = ["--time", "0", "--ignore"] if self.name == "podman" else []
            self.call(["rm", "-f", "-v", *now, *names], check=False, timeout=QUICK_TIMEOUT)
        for name in names:
            self._end_lifeline(name, wait=QUICK_TIMEOUT / 4)

    def containers(self, label: str) -> list[str]:
        r = self.call(
            ["ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"], check=False
        )
        return [n.strip() for n in r.stdout.splitlines() if n.strip()]

    def is_running(self, name: str) -> bool:
        r = self.call(["inspect", "--format", "{{.State.Running}}", name], check=False)
        return r.stdout.strip() == "true"

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
        """A started container that is removed on the way out, whatever happened."""
        try:
            self.create(image, name, labels=labels, extra_args=extra_args, arch=arch)
            yield name
        finally:
            self.remove([name])


def _platform(arch: str | None) -> tuple[list[str], tuple[str, ...]]:
    """The engine's arguments for running as ``arch``, and the prefix of every command."""
    if arch is None:
        return [], ()
    info = arch_info(arch)
    return ["--platform", info.oci], (("linux32",) if info.bits == 32 else ())


def _answers(binary: str) -> tuple[bool, str]:
    try:
        r = subprocess.run(
            [binary, "info", "--format", "{{json .}}"],
            capture_output=True,
            timeout=20,
            check=False,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, r.stderr.decode(errors="replace").strip()


def detect_engine(choice: str, registry: ProcessRegistry | None = None) -> Engine:
    """Find the engine: ``docker``, ``podman`` or ``auto`` (docker if its daemon answers, else podman)."""
    candidates = ["docker", "podman"] if choice == "auto" else [choice]
    problems: list[str] = []
    for name in candidates:
        binary = shutil.which(name)
        if binary is None:
            problems.append(f"{name}: not installed (not on PATH)")
            continue
        ok, err = _answers(binary)
        if ok:
            return Engine(name, binary, registry)
        if "permission denied" in err.lower():
            problems.append(f"{name}: permission denied talking to the daemon ({_first_line(err)})")
        else:
            problems.append(f"{name}: does not answer ({_first_line(err)})")
    tip = (
        "install docker or podman; for docker, start the daemon and make sure your user may use "
        "its socket (the docker group); run `manywheel doctor` for a full diagnosis"
    )
    raise EngineError("no usable container engine: " + "; ".join(problems), tip=tip)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "no message"
