"""What a run needs from the place its targets build, and what only container engines add.

A ``Backend`` starts a sandbox for a target (a container, or a temporary folder in host
mode), runs commands in it (files go in and wheels come out as tar streams on those
commands' standard input and output, see ``transfer``), and removes it. Image operations
(pull, inspect, commit a prepared environment, list and remove prepared images) exist only on
a ``ContainerEngine``: callers ask ``backend.container_engine()`` for it, which is None in
host mode, instead of testing which backend they hold.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, Protocol

from .._layout import Layout
from .process import QUICK_TIMEOUT, ExecResult, ProcessRegistry

__all__ = ["Backend", "ContainerEngine"]


class Backend(Protocol):
    """Where targets build: sandboxes to put files in, run scripts in and take wheels out of."""

    name: str  # docker, podman or host
    binary: str  # the program it drives (shown when a run starts)
    registry: ProcessRegistry  # every child process it started, stopped on an interrupt

    def container_engine(self) -> ContainerEngine | None:
        """The image operations of a container engine; None where there are none (host)."""
        ...

    def layout(self, container: str) -> Layout:
        """Where a target's files live in ``container``."""
        ...

    def container(
        self,
        image: str,
        name: str,
        *,
        labels: Mapping[str, str],
        extra_args: Sequence[str] = (),
        arch: str | None = None,
    ) -> AbstractContextManager[str]:
        """A started sandbox named ``name``, removed on the way out whatever happened;
        ``arch``: run as that architecture (None: the image's, or this machine's)."""
        ...

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
        """Start ``command`` in the sandbox (tracked in ``registry``; the caller discards it).
        ``env``'s values never appear on a command line."""
        ...

    def run_script(self, name: str, script: str, *, timeout: float = QUICK_TIMEOUT) -> ExecResult:
        """Run a POSIX sh script in the sandbox and collect its output (bounded)."""
        ...

    def remove(self, names: Sequence[str]) -> None:
        """Remove these sandboxes now (their running commands end with them)."""
        ...

    def containers(self, label: str) -> list[str]:
        """The names of the sandboxes with ``label`` (``key`` or ``key=value``)."""
        ...

    def is_running(self, name: str) -> bool: ...


class ContainerEngine(Backend, Protocol):
    """docker or podman: a ``Backend`` with images, committed images and its own CLI."""

    def call(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = QUICK_TIMEOUT,
        check: bool = True,
        input_bytes: bytes | None = None,
    ) -> ExecResult:
        """Run the engine's client with ``args`` (bounded)."""
        ...

    def image_id(self, ref: str) -> str | None: ...

    def image_arch(self, ref: str) -> str | None:
        """The architecture the image is for, as the engine names it (amd64, arm64, 386)."""
        ...

    def image_env(self, ref: str) -> dict[str, str]: ...

    def pull(self, ref: str, *, arch: str | None = None) -> None:
        """Pull ``ref`` (for ``arch``'s platform if given)."""
        ...

    def images(self, label: str) -> list[dict[str, str]]:
        """Images with ``label``: Repository, Tag, ID, CreatedSince, Size."""
        ...

    def remove_image(self, ref: str, *, force: bool = True) -> None:
        """Remove the image ``ref`` (a tag: only that tag, if the image has others); a failure
        is not an error. Without ``force``, an image a container uses (running or not) stays;
        with it, docker only untags such an image and podman removes those containers too."""
        ...

    def commit(self, container: str, tag: str, labels: Mapping[str, str]) -> None: ...

    def give_up(self, reason: str) -> None:
        """Use this engine no more: stop its client processes; every later call fails."""
        ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        """Make the named volume (with ``labels``) unless it exists."""
        ...

    def volumes(self, label: str) -> list[str]:
        """The names of the volumes with ``label``."""
        ...

    def remove_volumes(self, names: Sequence[str], *, force: bool = True) -> None:
        """Remove the named volumes (``force``: podman removes the containers using them too;
        without it, a volume in use stays)."""
        ...
