"""Native cross compilers for foreign-architecture targets (``cross-compilers``).

Under QEMU user emulation the kernel hands only *foreign* ELF files to QEMU: inside an arm64
container on an x86_64 machine an x86_64 program still runs natively. So a target's Python,
pip and build backend run emulated, as on real hardware, while the C and C++ compiler they
call is zig (a static cross compiler of this machine's architecture, from the ``ziglang``
wheel) targeting the container's own glibc version, headers and libraries.

This module decides which targets get it (:func:`cross_plan`, pure) and makes the toolchain
ready on the host (:func:`zig_toolchain`: downloaded once into the cache folder, keyed by zig's
version and this machine's architecture, then mounted read-only into the build containers and
never written into an image). What runs in the container is in ``_scripts/cross.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._arch import native_arch, runs_natively
from ._config.options import Options
from ._errors import ManywheelError
from ._model import Target

__all__ = [
    "ZIG_TARGETS",
    "ZIG_VERSION",
    "CrossCompilers",
    "CrossPlan",
    "ToolchainError",
    "cross_plan",
    "glibc_max",
    "zig_toolchain",
]

# The ziglang release manywheel uses: part of the fingerprint and of the cache folder's name.
ZIG_VERSION = "0.17.1"
# Target architectures (wheel names) zig compiles for here, each with zig's target (the
# image's glibc version is appended in the container) and the multiarch folder name Debian
# images keep their headers and libraries under. Only architectures with a real-engine test
# are listed; ppc64le (powerpc64le-linux-gnu), s390x, riscv64 and armv7l (arm-linux-gnueabihf)
# are targets zig has too, left out until an image of theirs is tested.
ZIG_TARGETS: dict[str, tuple[str, str]] = {
    "aarch64": ("aarch64-linux-gnu", "aarch64-linux-gnu"),
}
DOWNLOAD_TIMEOUT = 900.0


class ToolchainError(ManywheelError):
    """The cross toolchain could not be made ready (the run goes on without it)."""


@dataclass(frozen=True)
class CrossPlan:
    """A target that compiles with zig, if its probe passes in the container."""

    arch: str
    zig_target: str  # aarch64-linux-gnu (the image's glibc version is added in the container)
    multiarch: str  # the image's multiarch folder (Debian's /usr/include/aarch64-linux-gnu)
    version: str = ZIG_VERSION

    @property
    def label(self) -> str:
        """What the fingerprint, the venv key and the build log name it by."""
        return f"zig {self.version} cc -target {self.zig_target}"


@dataclass(frozen=True)
class CrossCompilers:
    """A plan with its toolchain ready: what a target's build container needs."""

    plan: CrossPlan
    root: Path  # the host folder holding zig and its lib/ (mounted read-only here)
    glibc_max: tuple[int, int]  # the newest glibc zig has symbol lists for
    volume: str | None = None  # on another builder: its volume holding a copy of ``root``
    # This machine's Python, packed to run build and auditwheel natively (None: emulated).
    python: Path | None = None
    # What identifies the image the target builds in (its environment's key, from image ids):
    # a probe that passed there is not run again with the same wrappers and flags ("": always).
    image_key: str = ""
    # A CPython of the target's version, of this machine's architecture, packed: it compiles
    # the isolated build environment's bytecode natively (None: the target compiles it).
    bytecode: Path | None = None
    # zig's cache after the probe ran in the image, made once: a build's zig cache starts as a
    # copy of it, with the glibc stubs and compiler-rt built (None: zig builds them).
    zig_seed: Path | None = None
    # The image's release of uv (uv_version), built for this machine (_nativeuv): the folder
    # holding it (None: the image's uv runs emulated).
    uv: Path | None = None
    uv_version: str = ""

    @property
    def mount(self) -> str:
        """What the build container mounts read-only: the volume, else the host folder."""
        return self.volume or str(self.root)


def cross_plan(
    options: Options, target: Target, *, containers: bool = True, machine: str | None = None
) -> CrossPlan | None:
    """The cross compilers ``target`` is to use, or None: ``cross-compilers`` is off, the
    target runs natively (nothing to gain), it is not a glibc target, zig is not known to
    work for its architecture here, it builds in host mode, or ccache is on (ccache is
    itself an emulated program; its cache would mix both compilers' objects)."""
    if options.cross_compilers != "auto" or not containers or options.ccache:
        return None
    if target.libc != "manylinux" or runs_natively(target.arch, machine):
        return None
    known = ZIG_TARGETS.get(target.arch)
    if known is None:
        return None
    return CrossPlan(target.arch, *known)


def glibc_max(lib_dir: Path) -> tuple[int, int]:
    """The newest glibc version in zig's symbol lists (``lib/libc/glibc/abilists``): a byte
    count of libraries, their NUL-ended names, a byte count of versions, then three bytes
    (major, minor, patch) for each, oldest first."""
    data = (lib_dir / "libc" / "glibc" / "abilists").read_bytes()
    pos = 1
    for _ in range(data[0]):
        pos = data.index(0, pos) + 1
    count = data[pos]
    if count == 0:
        raise ValueError("no glibc versions")
    last = pos + 1 + 3 * (count - 1)
    major, minor = data[last], data[last + 1]
    if major != 2:
        raise ValueError(f"unexpected glibc version {major}.{minor}")
    return major, minor


Downloader = Callable[[Sequence[str], Path], None]


def last_line(output: str, code: int) -> str:
    """What a failed tool said last (its last non-blank line), or its exit code."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {code}"


def run_tool(
    argv: Sequence[str],
    cannot: str,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a tool that makes or checks a toolchain, its output captured as text (bytes that
    are not UTF-8 replaced); ToolchainError ``cannot: why`` if it cannot run or runs longer
    than ``timeout``. Its exit status is the caller's to judge."""
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            env=env,
            start_new_session=new_session,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainError(f"{cannot}: {e}") from None


def pip_download(args: Sequence[str], dest: Path) -> None:
    """Download with this interpreter's pip (its configuration and PIP_* variables apply)."""
    argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-d"]
    r = run_tool(
        [*argv, str(dest), *args],
        "pip download could not run",
        timeout=DOWNLOAD_TIMEOUT,
        new_session=True,
    )
    if r.returncode != 0:
        raise ToolchainError(f"pip download failed: {last_line(r.stderr, r.returncode)}")


def _download_args(options: Options, version: str, arch: str) -> list[str]:
    args = ["--no-deps", "--only-binary", ":all:"]
    # The ziglang wheels' tags: manylinux_2_12 (x86_64) or _2_17, and musllinux_1_1.
    for tag in ("manylinux_2_17", "manylinux_2_12", "musllinux_1_1"):
        args += ["--platform", f"{tag}_{arch}"]
    return [*args, *index_args(options), f"ziglang=={version}"]


def index_args(options: Options) -> list[str]:
    """pip download's arguments for the index and certificates the configuration names."""
    args: list[str] = []
    if options.pip_index_url:
        args += ["--index-url", options.pip_index_url]
    for url in options.pip_extra_index_url:
        args += ["--extra-index-url", url]
    if options.ca_bundle is not None:
        args += ["--cert", str(options.ca_bundle)]
    return args


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Extract the wheel, keeping the executable bits it records (zipfile drops them)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            if (info.external_attr >> 16) & 0o111 and path.is_file():
                path.chmod(0o755)


def made_once(folder: Path, fill: Callable[[Path], Path], what: str) -> Path:
    """``folder`` of the cache's toolchains, made by ``fill`` in a temporary folder beside it
    (whose name starts with a dot: a prune removes one a killed run left) and renamed into
    place, so a folder that is there is whole; two runs at once: the first rename wins.
    ``fill`` returns what becomes ``folder`` (the temporary folder or a folder in it). Raises
    ToolchainError, for ``what``."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-", suffix=".part"))
    except OSError as e:
        raise ToolchainError(f"could not make {folder.parent}: {e}") from None
    try:
        made = fill(tmp)
        made.chmod(0o755)  # mounted read-only into containers, whoever runs them
        with contextlib.suppress(OSError):  # another run made it first: keep that one
            os.rename(made, folder)
    except OSError as e:
        raise ToolchainError(f"could not make {what} in {folder}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def zig_toolchain(
    cache_root: Path,
    options: Options,
    *,
    version: str = ZIG_VERSION,
    machine: str | None = None,
    download: Downloader | None = None,
) -> tuple[Path, tuple[int, int]]:
    """The folder holding zig for this machine (made once in ``cache_root/toolchains``, with
    ``download``, by default :func:`pip_download`), and the newest glibc it knows. Made in a temporary folder and renamed into place, so a folder
    that is there is whole (two runs at once: the first rename wins). Raises ToolchainError."""
    arch = native_arch(machine)
    folder = cache_root / "toolchains" / f"zig-{version}-{arch}"
    root = folder / "ziglang"

    def fill(tmp: Path) -> Path:
        (download or pip_download)(_download_args(options, version, arch), tmp / "wheel")
        wheels = sorted((tmp / "wheel").glob("ziglang-*.whl"))
        if not wheels:
            raise ToolchainError(f"pip download left no ziglang {version} wheel for {arch}")
        try:
            unpack_wheel(wheels[0], tmp / "tree")
        except zipfile.BadZipFile as e:
            raise ToolchainError(f"could not unpack zig {version}: {e}") from None
        if not (tmp / "tree" / "ziglang" / "zig").is_file():
            raise ToolchainError(f"{wheels[0].name} holds no ziglang/zig")
        return tmp / "tree"

    if not (root / "zig").is_file():
        made_once(folder, fill, f"zig {version}")
    try:
        return root, glibc_max(root / "lib")
    except (OSError, ValueError, IndexError) as e:
        raise ToolchainError(f"zig {version} in {folder} has no usable glibc list: {e}") from None
