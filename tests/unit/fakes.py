"""An in-memory backend for unit tests of the orchestration (``_run``, ``_pipeline``).

``FakeEngine`` implements ``ContainerEngine`` without any engine: a container is a dict of
files, a command run in it is a thread behind a ``Popen`` look-alike. It answers what the
pipeline sends as a container would: it unpacks the tar parcels from stdin, reads the
build script that came with them (its marker, its target, its steps), prints the step and
snapshot control lines with some output, and leaves a wheel in the out folder for the
copy-out. What each target's build does is scripted with ``Behaviour``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shlex
import signal
import subprocess
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from manywheel._engines.process import QUICK_TIMEOUT, ExecResult, ProcessRegistry
from manywheel._layout import CONTAINER, Layout
from manywheel._plan import DISCOVER_SCRIPT

__all__ = ["FACTS", "Behaviour", "FakeContainer", "FakeEngine", "FakeProc", "wheel_bytes"]

FACTS = """\
platform manylinux_x86_64
auditwheel_plat manylinux_2_17_x86_64
pkgmgr dnf
shell bash
python /opt/python/cp312-cp312 cpython 3.12.4 0
python /opt/python/cp313-cp313 cpython 3.13.1 0
"""
VENV_BYTES = b"a venv tarball, as the fake container makes it\n" * 20
WAIT = 10.0  # no fake wait may last longer than this


def wheel_bytes(name: str, code: str = "") -> bytes:
    """A small valid wheel archive (WHEEL and RECORD in its .dist-info) named ``name``, its
    ``__init__.py`` holding ``code``; its members dated now, as a build backend would."""
    dist, version = name.split("-")[:2]
    info = f"{dist}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{dist}/__init__.py", code)
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
        zf.writestr(f"{info}/RECORD", "")
    return buf.getvalue()


@dataclass
class Behaviour:
    """What one target's build does in its fake container."""

    fail_at: str | None = None  # the step (venv, requirements, build, repair) that fails...
    code: int = 1  # ...with this exit code
    hang_at: str | None = None  # the step where it waits until its container is removed
    wheel: str | None = None  # the wheel it leaves (None: one that fits the target)
    lines: tuple[str, ...] = ("compiling", "linking")
    stop_container: bool = False  # when failing: the container is gone too (killed from outside)
    meet: threading.Barrier | None = None  # at the build step, wait for the other targets there
    test_exit: int = 0  # what its test script exits with
    delay: float = 0.0  # seconds its build step takes (unless its container goes first)
    unstable: bool = False  # each build's wheel differs (its __init__.py counts the builds)


@dataclass
class FakeContainer:
    name: str
    image: str
    labels: dict[str, str]
    extra_args: tuple[str, ...]
    arch: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    procs: list[FakeProc] = field(default_factory=list)
    removed: bool = False


class FakeProc:
    """A ``subprocess.Popen`` look-alike whose process is a thread running ``body``.

    ``body`` gets the process; it reads ``stdin_data`` (the write end is ``stdin``), writes
    with ``out`` and returns the exit code. A signal (or its container's removal) sets
    ``killed``; a body that waits should give up then.
    """

    def __init__(
        self, args: Sequence[str], body: Callable[[FakeProc], int], *, with_stdin: bool
    ) -> None:
        self.args = list(args)
        self.pid = 0
        self.returncode: int | None = None
        self.killed = threading.Event()
        self.signalled = 0  # the first signal sent to it
        self.stderr: IO[bytes] | None = None
        self.err = b""
        self.stdin: IO[bytes] | None = None
        self.stdin_data: IO[bytes] | None = None
        if with_stdin:
            r, w = os.pipe()
            self.stdin_data, self.stdin = os.fdopen(r, "rb"), os.fdopen(w, "wb")
        r, w = os.pipe()
        self.stdout: IO[bytes] | None = os.fdopen(r, "rb")
        self._out = os.fdopen(w, "wb")
        self._thread = threading.Thread(target=self._main, args=(body,), daemon=True)
        self._thread.start()

    def _main(self, body: Callable[[FakeProc], int]) -> None:
        try:
            code = body(self)
        except BrokenPipeError:
            code = 141
        except Exception as e:  # a bug in a test's fake: make it visible in the output
            self.err += repr(e).encode()
            code = 99
        finally:
            with contextlib.suppress(OSError):
                self._out.close()
            if self.stdin_data is not None:
                with contextlib.suppress(OSError):
                    self.stdin_data.close()
        # A client killed by a signal ends as a real one does (the container's process may
        # have ended first, the client's exit is what its caller sees).
        self.returncode = -self.signalled if self.signalled else code

    def out(self, data: bytes) -> None:
        self._out.write(data)
        self._out.flush()

    def write(self, data: bytes) -> int:  # for a tar stream written to stdout
        self.out(data)
        return len(data)

    def line(self, text: str) -> None:
        self.out(text.encode() + b"\n")

    # -- the Popen interface the library uses -------------------------------------------
    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signalled = self.signalled or sig
        self.killed.set()

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def communicate(
        self, input: bytes | None = None, timeout: float | None = None
    ) -> tuple[bytes, bytes]:
        if self.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                if input:
                    self.stdin.write(input)
                self.stdin.close()
        out = self.stdout.read() if self.stdout is not None else b""
        self.wait(timeout)
        return out, self.err


def _unpack(proc: FakeProc, ctr: FakeContainer) -> None:
    """Extract the tar stream on the process's stdin into the container's files."""
    assert proc.stdin_data is not None
    with tarfile.open(fileobj=proc.stdin_data, mode="r|") as tar:
        for member in tar:
            if member.isfile():
                data = tar.extractfile(member)
                assert data is not None
                ctr.files["/" + member.name] = data.read()


class FakeEngine:
    """A ``ContainerEngine`` in memory (see the module's docstring)."""

    def __init__(
        self,
        name: str = "docker",
        *,
        facts: str = FACTS,
        behaviours: Mapping[str, Behaviour] | None = None,
        images_present: Sequence[str] = (),
        facts_by_image: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.binary = f"/fake/{name}"
        self.registry = ProcessRegistry()
        self.facts = facts
        self.facts_by_image = dict(facts_by_image or {})  # what discovery says in an image
        self.behaviours = dict(behaviours or {})
        self.made: list[FakeContainer] = []  # every container ever started, in order
        self.live: dict[str, FakeContainer] = {}
        self.images_present = set(images_present)
        self.image_archs: dict[str, str] = {}  # image -> its recorded architecture, if known
        self.pulled: list[str] = []
        self.pulled_as: list[tuple[str, str | None]] = []  # (reference, arch) of each pull
        self.committed: list[tuple[str, str, dict[str, str]]] = []
        self.image_labels: dict[str, dict[str, str]] = {}  # image -> its labels (committed)
        self.images_in_use: set[str] = set()  # what remove_image(force=False) leaves
        self.removed_images: list[tuple[str, bool]] = []  # (reference, force) of each removal
        self.scripts: dict[str, str] = {}  # target -> its last build script
        self.tests: list[tuple[str, str]] = []  # (target, test script) of each test run
        self.restored: dict[str, bytes] = {}  # target -> the cached venv it was given
        self.running = 0  # build scripts running now
        self.most_running = 0  # ...at most, so far
        self.hanging: set[str] = set()  # targets waiting in their hang_at step
        # container -> the variables its last exec given any got by name
        self.exec_env: dict[str, dict[str, str]] = {}
        self.builds = 0  # build scripts run so far
        self.volumes_made: dict[str, dict[str, str]] = {}  # volume -> its labels
        self.volumes_in_use: set[str] = set()  # what remove_volumes(force=False) leaves
        self.given_up: str | None = None  # why the run gave this engine up (a lost builder)
        self._lock = threading.Lock()

    def attach(self, registry: ProcessRegistry | None = None) -> FakeEngine:
        """What a patched ``detect_engine`` returns: this engine, with the run's registry."""
        if registry is not None:
            self.registry = registry
        return self

    def __repr__(self) -> str:
        return f"FakeEngine({self.name!r})"

    # -- Backend --------------------------------------------------------------------------
    def container_engine(self) -> FakeEngine:
        return self

    def layout(self, container: str) -> Layout:
        return CONTAINER

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
        ctr = FakeContainer(name, image, dict(labels), tuple(extra_args), arch)
        with self._lock:
            assert name not in self.live, f"container {name} already exists"
            self.made.append(ctr)
            self.live[name] = ctr
        try:
            yield name
        finally:
            self.remove([name])

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
        with self._lock:
            ctr = self.live.get(name)
        if ctr is None:
            body: Callable[[FakeProc], int] = _no_such_container
        else:
            body = self._body(ctr, list(command))
        if env:
            self.exec_env[name] = dict(env)
        proc = FakeProc(command, body, with_stdin=stdin == subprocess.PIPE)
        popen = cast("subprocess.Popen[bytes]", proc)
        if ctr is not None:
            with self._lock:
                ctr.procs.append(proc)
        self.registry.add(popen)
        return popen

    def run_script(self, name: str, script: str, *, timeout: float = QUICK_TIMEOUT) -> ExecResult:
        ctr = self.live.get(name)
        if script == DISCOVER_SCRIPT:
            image = ctr.image if ctr is not None else ""
            return ExecResult(0, self.facts_by_image.get(image, self.facts), "")
        if ctr is not None and script.startswith("touch "):
            ctr.files[shlex.split(script)[1]] = b""
        made = re.search(r"python -m build --sdist --outdir (\S+) \.", script)
        if ctr is not None and made is not None:  # an sdist of the project copied in
            ctr.files[f"{made.group(1)}/demo-1.0.tar.gz"] = _sdist_of(ctr)
            return ExecResult(0, "Successfully built demo-1.0.tar.gz\n", "")
        return ExecResult(0, "", "")

    def remove(self, names: Sequence[str]) -> None:
        for name in names:
            with self._lock:
                ctr = self.live.pop(name, None)
            if ctr is None:
                continue
            ctr.removed = True
            for proc in ctr.procs:  # `rm -f` ends what runs in it (not its client)
                proc.killed.set()

    def containers(self, label: str) -> list[str]:
        key, _, value = label.partition("=")
        with self._lock:
            return [
                c.name
                for c in self.live.values()
                if key in c.labels and (not value or c.labels[key] == value)
            ]

    def is_running(self, name: str) -> bool:
        return name in self.live

    # -- ContainerEngine ------------------------------------------------------------------
    def call(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = QUICK_TIMEOUT,
        check: bool = True,
        input_bytes: bytes | None = None,
    ) -> ExecResult:
        return ExecResult(0, "", "")

    def image_id(self, ref: str) -> str | None:
        if ref not in self.images_present:
            return None
        if ref.startswith("sha256:"):
            return ref
        return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()

    def image_env(self, ref: str) -> dict[str, str]:
        return {}

    def image_arch(self, ref: str) -> str | None:
        return self.image_archs.get(ref) if ref in self.images_present else None

    def pull(self, ref: str, *, arch: str | None = None) -> None:
        self.pulled.append(ref)
        self.pulled_as.append((ref, arch))
        self.images_present.add(ref)

    def images(self, label: str) -> list[dict[str, str]]:
        key, _, value = label.partition("=")
        rows = []
        for ref, labels in self.image_labels.items():
            if ref in self.images_present and key in labels and labels[key] == value:
                untagged = ref.startswith("sha256:")  # an image that lost its tag
                repository, _, tag = ("<none>", "", "<none>") if untagged else ref.rpartition(":")
                row = {"Repository": repository, "Tag": tag, "ID": self.image_id(ref) or "?"}
                rows.append({**row, "CreatedSince": "1 day ago", "Size": "1MB"})
        return rows

    def remove_image(self, ref: str, *, force: bool = True) -> None:
        self.removed_images.append((ref, force))
        if force or ref not in self.images_in_use:
            self.images_present.discard(ref)

    def commit(self, container: str, tag: str, labels: Mapping[str, str]) -> None:
        self.committed.append((container, tag, dict(labels)))
        self.images_present.add(tag)
        self.image_labels[tag] = dict(labels)

    def give_up(self, reason: str) -> None:
        self.given_up = reason

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self.volumes_made.setdefault(name, dict(labels))

    def volumes(self, label: str) -> list[str]:
        key, _, value = label.partition("=")
        return [
            n
            for n, labels in self.volumes_made.items()
            if key in labels and (not value or labels[key] == value)
        ]

    def remove_volumes(self, names: Sequence[str], *, force: bool = True) -> None:
        for name in names:
            if force or name not in self.volumes_in_use:
                self.volumes_made.pop(name, None)

    # -- what runs in a container ---------------------------------------------------------
    def _body(self, ctr: FakeContainer, command: list[str]) -> Callable[[FakeProc], int]:
        if command[:2] == ["tar", "-cf"]:
            return lambda proc: _copy_out(proc, ctr, command[4])
        script = command[2] if command[:2] == ["/bin/sh", "-c"] else ""
        if 'cat "$1"' in script:  # save_venv: the snapshot out, then say it is taken
            return lambda proc: _snapshot_out(proc, ctr, command[4], command[5])
        found = re.search(r"; exec (\S+) (\S+)$", script)
        if found is None:  # copy_in: unpack only
            return lambda proc: _unpack_only(proc, ctr)
        path = found.group(2)
        return lambda proc: self._run_script(proc, ctr, path)

    def _run_script(self, proc: FakeProc, ctr: FakeContainer, path: str) -> int:
        _unpack(proc, ctr)
        script = ctr.files[path].decode()
        marker = re.search(r"(::mw-[0-9a-f]+::)", script)
        ident = re.search(r"^export MANYWHEEL_IDENTIFIER=(\S+)$", script, re.MULTILINE)
        if marker is None:
            proc.line("fake: no marker in the script")
            return 98
        if path.endswith("/test.sh"):
            proc.line(f"{marker.group(1)} step test")
            tested = re.search(r"^export CIBUILDWHEEL_BUILD_IDENTIFIER=(\S+)$", script, re.M)
            how = self.behaviours.get(tested.group(1).strip("'") if tested else "", Behaviour())
            with self._lock:
                self.tests.append((tested.group(1).strip("'") if tested else "", script))
            if how.test_exit:
                proc.line("FAILED tests/test_x.py::test_x")
            return how.test_exit
        assert ident is not None
        target = ident.group(1).strip("'")
        with self._lock:
            self.scripts[target] = script
            self.builds += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            return self._build(proc, ctr, script, marker.group(1), target)
        finally:
            with self._lock:
                self.running -= 1

    def _build(
        self, proc: FakeProc, ctr: FakeContainer, script: str, marker: str, target: str
    ) -> int:
        how = self.behaviours.get(target, Behaviour())
        work = CONTAINER.work
        restore = f"tar -xf {CONTAINER.inbox}/venv.tar" in script
        if restore:
            self.restored[target] = ctr.files.get(f"{CONTAINER.inbox}/venv.tar", b"")
        for step in re.findall(r"^step '?([^\s']+)'?$", script, re.MULTILINE):
            proc.line(f"{marker} step {step}")
            if step == "done":
                continue
            for text in how.lines:
                proc.line(f"{target}: {step}: {text}")
            if how.meet is not None and step == "build":
                how.meet.wait(WAIT)  # BrokenBarrierError unless the others build at the same time
            if how.delay and step == "build" and proc.killed.wait(how.delay):
                return 137
            if how.hang_at == step:
                with self._lock:
                    self.hanging.add(target)
                proc.killed.wait(WAIT)
                return 137
            if how.fail_at == step:
                proc.line(f"manywheel: error: {step} failed")
                if how.stop_container:
                    self.remove([ctr.name])
                return how.code
            if step == "requirements" and "snapshot-taken" in script:
                ctr.files[f"{work}/venv.tar"] = VENV_BYTES
                proc.line(f"{marker} snapshot")
                deadline = time.monotonic() + WAIT
                while f"{work}/snapshot-taken" not in ctr.files and time.monotonic() < deadline:
                    time.sleep(0.01)
                ctr.files.pop(f"{work}/venv.tar", None)
            if step == "repair":
                name = how.wheel or _fitting_wheel(target)
                out = re.search(r"^export MW_DEST_DIR=(\S+)$", script, re.MULTILINE)
                assert out is not None
                code = f"build = {self.builds}\n" if how.unstable else ""
                ctr.files[f"{out.group(1)}/{name}"] = wheel_bytes(name, code)
        return 0


def _sdist_of(ctr: FakeContainer) -> bytes:
    """An sdist (demo-1.0/...) of what the container has under /project, with a PKG-INFO."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        files = {
            p[len("/project/") :]: d for p, d in ctr.files.items() if p.startswith("/project/")
        }
        files["PKG-INFO"] = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fitting_wheel(target: str) -> str:
    """A wheel repaired for the target's libc and arch (its identifier may name a policy:
    cp313-manylinux_2_28_x86_64)."""
    tag, platform = target.split("-", 1)
    found = re.fullmatch(r"((manylinux|musllinux)(?:_\d+_\d+|\d+)?)_(\w+)", platform)
    assert found is not None, platform
    policy, libc, arch = found.groups()
    if policy == libc:
        policy = "musllinux_1_2" if libc == "musllinux" else "manylinux_2_17"
    return f"demo-1.0-{tag}-{tag}-{policy}_{arch}.whl"


def _unpack_only(proc: FakeProc, ctr: FakeContainer) -> int:
    _unpack(proc, ctr)
    return 0


def _no_such_container(proc: FakeProc) -> int:
    proc.err = b"Error: no such container"
    return 125


def _copy_out(proc: FakeProc, ctr: FakeContainer, src: str) -> int:
    prefix = src.rstrip("/") + "/"
    with tarfile.open(fileobj=cast(Any, proc), mode="w|") as tar:
        for path, data in sorted(ctr.files.items()):
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                info = tarfile.TarInfo("./" + path[len(prefix) :])
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return 0


def _snapshot_out(proc: FakeProc, ctr: FakeContainer, snapshot: str, taken: str) -> int:
    data = ctr.files.get(snapshot)
    if data is not None:
        proc.out(data)
    ctr.files[taken] = b""
    return 0 if data is not None else 1
