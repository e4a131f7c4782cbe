"""A native uv for the emulated targets: the release of uv the image has, built for this
machine's architecture (cross-compilers = "auto").

Under QEMU the image's uv is an emulated program like any other: seconds of translated code for
each call, and a target makes several (the build venv's requirements, build's isolated
environment and its install). uv acts for the interpreter it is given, not for the machine it
runs on: it asks that interpreter (the target's, emulated) for its platform and installs the
wheels of the target's architecture. So the same release of uv, built for this machine, does the
same work natively. uv's musllinux wheels hold a static binary, which runs in any container
whatever its C library. It is downloaded once into the cache's toolchains (keyed by release and
architecture), checked by running it here, and mounted read-only into the build containers.

In the container the build script hands it manywheel's own uv commands only when the installer
is uv and the uv it found on PATH says the same release (a setup script may have put another
there); every command of the user's runs the image's uv (``_scripts/cross.native_uv_lines``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ._arch import native_arch
from ._config.options import Options
from ._toolchain import (
    Downloader,
    ToolchainError,
    index_args,
    made_once,
    pip_download,
    run_tool,
    unpack_wheel,
)

__all__ = ["native_uv"]

# A release as uv prints it ("uv 0.13.9 (...)"): the version only, as the download pins it.
RELEASE = re.compile(r"[0-9]+(\.[0-9]+){1,3}((a|b|rc)[0-9]+)?")
CHECK_TIMEOUT = 60.0


def native_uv(
    cache_root: Path,
    options: Options,
    version: str,
    *,
    machine: str | None = None,
    download: Downloader | None = None,
) -> Path:
    """The folder (``cache_root/toolchains/uv-VERSION-ARCH``) holding ``uv``: the static uv
    of release ``version`` for this machine, made once with ``download`` (by default
    :func:`pip_download`). Raises ToolchainError."""
    if not RELEASE.fullmatch(version):
        raise ToolchainError(f"the image's uv says release {version!r}, not one to download")
    arch = native_arch(machine)
    folder = cache_root / "toolchains" / f"uv-{version}-{arch}"

    def fill(tmp: Path) -> Path:
        args = ["--no-deps", "--only-binary", ":all:", "--platform", f"musllinux_1_1_{arch}"]
        (download or pip_download)([*args, *index_args(options), f"uv=={version}"], tmp / "wheel")
        wheels = sorted((tmp / "wheel").glob("uv-*.whl"))
        if not wheels:
            raise ToolchainError(f"pip download left no uv {version} wheel for {arch}")
        try:
            unpack_wheel(wheels[0], tmp / "tree")
        except zipfile.BadZipFile as e:
            raise ToolchainError(f"could not unpack uv {version}: {e}") from None
        found = sorted((tmp / "tree").glob("uv-*.data/scripts/uv"))  # uv and uvx: the folder
        if not found or not found[0].is_file():
            raise ToolchainError(f"{wheels[0].name} holds no uv")
        found[0].chmod(0o755)
        _check(found[0], version)
        return found[0].parent

    if not (folder / "uv").is_file():
        made_once(folder, fill, f"uv {version}")
    return folder


def _check(binary: Path, version: str) -> None:
    """It runs here and says the release asked for."""
    cannot = f"uv {version} does not run on this machine"
    r = run_tool([str(binary), "--version"], cannot, timeout=CHECK_TIMEOUT)
    said = r.stdout.split()
    if r.returncode != 0 or said[:2] != ["uv", version]:
        got = " ".join(said[:2]) or f"exit {r.returncode}"
        raise ToolchainError(f"the downloaded uv {version} says {got!r}")
