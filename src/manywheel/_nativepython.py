"""Native Pythons for emulated targets, packed to run in any container of this machine's
architecture (``cross-compilers = auto``).

An aarch64 container on an x86_64 machine runs x86_64 programs natively (see _toolchain). The
build frontend and the image's auditwheel are pure Python; under QEMU they spend seconds per
target starting up, and auditwheel reading ELF files. Run by this machine's interpreter, with
their own code and libraries (``_scripts/sh/native-build.py``, ``native-auditwheel.sh``), they
take a fraction of that and write the same wheel; the build backend's hooks still run emulated.
Those hooks import their backend (setuptools: hundreds of modules), which the target's
interpreter would first compile to bytecode, under QEMU: tens of seconds per target on a
project's first build. Bytecode does not depend on the machine, only on Python's version, so
an x86_64 CPython of the target's version, taken from an image of this machine's architecture
(``image_python``: the x86_64 twin of the aarch64 image), compiles it natively instead.

A pack is made once per interpreter in the cache folder (``toolchains/python-...``) by
``_scripts/sh/pack-python.py``, run by the interpreter it packs (here, or in a container of its
image): the executable, its standard library (without its tests, IDLE, tkinter, ensurepip and
site-packages) and every shared library these load, with the dynamic loader they name, so that
it needs nothing of the image it runs in. ``bin/python`` starts it through that loader, which
searches only the pack's ``lib``. It is mounted read-only into build containers and never
written into an image. A glibc interpreter only: anything else (a musl or static Python, no
``ldd``) leaves that work emulated.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from ._arch import native_arch
from ._engines.protocol import Backend
from ._errors import EngineError
from ._scripts.shell import fixed_script, quote
from ._toolchain import ToolchainError, last_line, made_once, run_tool

__all__ = ["image_python", "native_python"]

PACK_SCRIPT = fixed_script("pack-python.py")
PACK_AT = "/manywheel/pack"  # where the container of an image fills the pack
PACK_TIMEOUT = 300.0  # copying a standard library: seconds; a slow disk, a minute


def _interpreter() -> Path:
    """The executable of the interpreter running manywheel (a venv's base interpreter)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def _check(pack: Path, version: str) -> None:
    """Run the pack as it will run: by its own loader, from its own folder, importing what the
    tools need (zip and hashes for wheels, the ELF tools' structs, bytecode)."""
    check = (
        "import sys, zlib, hashlib, zipfile, struct, json, runpy, compileall;"
        " print(sys.prefix); print('%d.%d.%d' % sys.version_info[:3])"
    )
    r = run_tool(
        [str(pack / "bin" / "python"), "-s", "-c", check],
        "the packed Python could not run",
        timeout=PACK_TIMEOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    lines = r.stdout.split()
    if r.returncode != 0 or len(lines) != 2 or os.path.realpath(lines[0]) != os.path.realpath(pack):
        out = (r.stderr or r.stdout).strip()[-300:]
        raise ToolchainError(f"the packed Python does not work: {out or f'exit {r.returncode}'}")
    if lines[1] != version:
        raise ToolchainError(f"the packed Python is {lines[1]}, not {version}")


def _made(folder: Path, version: str, fill: Callable[[Path], None]) -> Path:
    """``folder``, filled by ``fill`` and checked before it is renamed into place (see
    ``made_once``): a pack that is there works. Raises ToolchainError."""
    if (folder / "bin" / "python").is_file():
        return folder

    def checked(tmp: Path) -> Path:
        fill(tmp)
        _check(tmp, version)
        return tmp

    return made_once(folder, checked, "a packed Python")


def _said(out: str, code: int) -> str:
    """pack-python's message (its last line), or the exit code."""
    return last_line(out, code).removeprefix("pack-python: ")


def native_python(cache_root: Path, *, machine: str | None = None) -> Path:
    """The folder of the packed interpreter running manywheel (made once in
    ``cache_root/toolchains``, keyed by its version, architecture, executable and the packing
    script), whose
    ``bin/python`` runs it. Raises ToolchainError."""
    exe = _interpreter()
    try:
        st = exe.stat()
    except OSError as e:
        raise ToolchainError(f"the interpreter {exe} cannot be read: {e}") from None
    key = hashlib.sha256(
        f"{exe}\0{st.st_size}\0{st.st_mtime_ns}\0{sys.version}\0{PACK_SCRIPT}".encode()
    ).hexdigest()
    version = "{}.{}.{}".format(*sys.version_info[:3])
    folder = cache_root / "toolchains" / f"python-{version}-{native_arch(machine)}-{key[:12]}"

    def fill(tmp: Path) -> None:
        argv = [str(exe), "-I", "-c", PACK_SCRIPT, str(tmp)]
        r = run_tool(argv, f"could not pack {exe}", timeout=PACK_TIMEOUT)
        if r.returncode != 0:
            raise ToolchainError(f"could not pack {exe}: {_said(r.stderr, r.returncode)}")

    return _made(folder, version, fill)


def image_python(
    cache_root: Path,
    engine: Backend,
    *,
    image: str,
    image_id: str,
    python: str,
    version: str,
    name: str,
    labels: Mapping[str, str],
) -> Path:
    """The folder of the interpreter ``python`` (its path; ``version``: X.Y.Z) of ``image``
    (``image_id``), an image of this machine's architecture, packed by that interpreter in a
    container of the image (named ``name``), made once in ``cache_root/toolchains``, keyed by
    the image's id and the interpreter (and the packing script). Raises ToolchainError."""
    key = hashlib.sha256(f"{image_id}\0{python}\0{version}\0{PACK_SCRIPT}".encode()).hexdigest()
    folder = cache_root / "toolchains" / f"python-{version}-{native_arch()}-{key[:12]}"
    script = (
        f"exec {quote(python)} -I - {PACK_AT} <<'MW_PACK_PYTHON'\n{PACK_SCRIPT}MW_PACK_PYTHON\n"
    )

    def fill(tmp: Path) -> None:
        mount = ("--volume", f"{tmp}:{PACK_AT}")
        try:
            with engine.container(image, name, labels=labels, extra_args=mount) as ctr:
                r = engine.run_script(ctr, script, timeout=PACK_TIMEOUT)
        except EngineError as e:
            raise ToolchainError(f"could not pack {python} of {image}: {e.message}") from None
        if r.returncode != 0:
            why = _said(r.stderr or r.stdout, r.returncode)
            raise ToolchainError(f"could not pack {python} of {image}: {why}")

    return _made(folder, version, fill)
