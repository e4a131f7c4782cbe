"""A native Python for emulated targets: the interpreter running manywheel, packed to run in
any container of this machine's architecture (``cross-compilers = auto``).

An aarch64 container on an x86_64 machine runs x86_64 programs natively (see _toolchain). The
build frontend and the image's auditwheel are pure Python; under QEMU they spend seconds per
target starting up, and auditwheel reading ELF files. Run by this machine's interpreter, with
their own code and libraries (``_scripts/sh/native-build.py``, ``native-auditwheel.sh``), they
take a fraction of that and write the same wheel; the build backend's hooks still run emulated.

The pack is made once per interpreter in the cache folder (``toolchains/python-...``): the
interpreter's executable, its standard library (without its tests, IDLE, tkinter, ensurepip
and site-packages) and every shared library these load, with the dynamic loader they name, so
that it needs nothing of the image. ``bin/python`` starts it through that loader, which
searches only the pack's ``lib``. It is mounted read-only at ``layout.native`` and never
written into an image. A glibc interpreter only: anything else (a musl or static Python, no
``ldd``) leaves the repair emulated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from ._arch import native_arch
from ._toolchain import ToolchainError

__all__ = ["native_python"]

# Folders of the standard library no tool of a build needs (their size: about 180 MB of 260).
_SKIPPED = frozenset(
    {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages"}
)
_SKIPPED_MODULES = ("_tkinter", "_test", "xxlimited", "xxsubtype", "_xxtestfuzz", "_ctypes_test")
LDD_TIMEOUT = 60.0

# bin/python: the interpreter, run by the pack's loader with only the pack's libraries; with
# --argv0 Python finds its prefix (the pack) from its own path, as it does when run directly.
LAUNCHER = """\
#!/bin/sh
# manywheel: {python} of the machine manywheel runs on, with the libraries it loads;
# started by their own dynamic loader, so it needs nothing of the image it runs in.
here=${{0%/bin/*}}
exec "$here/lib/{loader}" --library-path "$here/lib" --argv0 "$0" "$here/bin/{exe}" "$@"
"""

# act-for.py MACHINE SCRIPT ARGS...: runs the console script SCRIPT as its own interpreter
# would, except that os.uname() (and so platform.machine() and sysconfig) names MACHINE, the
# target's architecture: a tool that asks which machine it works for gets the target's answer.
ACT_FOR = '''\
"""manywheel: run a console script with this (native) Python, acting for another machine."""
import os
import runpy
import sys

_machine, _script = sys.argv[1], sys.argv[2]
_uname = os.uname


def _acting_uname():
    u = _uname()
    return os.uname_result((u.sysname, u.nodename, u.release, u.version, _machine))


os.uname = _acting_uname
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(_script)  # as when the script runs: its folder first
runpy.run_path(_script, run_name="__main__")
'''


def _interpreter() -> Path:
    """The executable of the interpreter running manywheel (a venv's base interpreter)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def _ldd(f: Path) -> tuple[list[Path], Path | None]:
    """The shared libraries ``f`` loads (recursively, as ``ldd`` lists them) and the dynamic
    loader it names. Raises ToolchainError if ldd fails or a library is not found."""
    try:
        r = subprocess.run(
            ["ldd", str(f)], capture_output=True, text=True, timeout=LDD_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainError(f"ldd could not run: {e}") from None
    if r.returncode != 0:
        raise ToolchainError(f"ldd {f} failed: {(r.stderr or r.stdout).strip()[-200:]}")
    libs, loader = [], None
    for line in r.stdout.splitlines():
        words = line.split()
        if "=>" in words:
            target = words[words.index("=>") + 1]
            if target == "not":
                raise ToolchainError(f"{f} needs {words[0]}, which is not found")
            if target.startswith("/"):
                libs.append(Path(target))
        elif words and words[0].startswith("/") and "/ld-" in words[0]:
            loader = Path(words[0])
    return libs, loader


def _libraries(exe: Path, modules: list[Path]) -> tuple[list[Path], Path]:
    """The shared libraries the interpreter ``exe`` and its extension ``modules`` load, and
    the dynamic loader it names. A module whose libraries cannot all be found is removed
    (its import fails, as it would where the library is missing). Raises ToolchainError."""
    libs, loader = _ldd(exe)
    if loader is None or "ld-linux" not in loader.name:
        raise ToolchainError(f"{exe} names no glibc dynamic loader (ld-linux)")
    found = {p.name: p for p in libs}
    for m in modules:
        try:
            more, _ = _ldd(m)
        except ToolchainError:
            m.unlink()
            continue
        for p in more:
            found.setdefault(p.name, p)
    return list(found.values()), loader


def _copy_stdlib(stdlib: Path, dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == stdlib
        return {
            n
            for n in names
            if (top and n in _SKIPPED)
            or (top and n.startswith("config-"))
            or n.startswith(_SKIPPED_MODULES)
            or n.endswith((".opt-1.pyc", ".opt-2.pyc"))
        }

    shutil.copytree(stdlib, dest, symlinks=False, ignore=ignore)


def _pack(tmp: Path, exe: Path) -> None:
    stdlib = Path(sysconfig.get_path("stdlib"))
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    if stdlib.name != f"python{ver}" or not (stdlib / "os.py").is_file():
        raise ToolchainError(
            f"the standard library of {exe} is not a python{ver} folder ({stdlib})"
        )
    lib = tmp / "lib"
    lib.mkdir(parents=True)
    _copy_stdlib(stdlib, lib / stdlib.name)
    dynload = lib / stdlib.name / "lib-dynload"
    modules = sorted(dynload.glob("*.so")) if dynload.is_dir() else []
    libs, loader = _libraries(exe, modules)
    for path in [*libs, loader]:
        shutil.copy2(path, lib / path.name)  # follows symbolic links: the library itself
    (tmp / "bin").mkdir()
    name = f"python{ver}.elf"
    shutil.copy2(exe, tmp / "bin" / name)
    launcher = tmp / "bin" / "python"
    launcher.write_text(
        LAUNCHER.format(python=f"Python {sys.version.split()[0]}", loader=loader.name, exe=name)
    )
    launcher.chmod(0o755)
    (tmp / "act-for.py").write_text(ACT_FOR)
    # Checked as it will run: by its own loader, from its own folder, importing what the
    # tools need (zip and hashes for wheels, the ELF tools' structs).
    check = "import sys, zlib, hashlib, zipfile, struct, json, runpy; print(sys.prefix)"
    try:
        r = subprocess.run(
            [str(launcher), "-s", "-c", check],
            capture_output=True,
            text=True,
            timeout=LDD_TIMEOUT,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainError(f"the packed Python could not run: {e}") from None
    if r.returncode != 0 or os.path.realpath(r.stdout.strip()) != os.path.realpath(tmp):
        out = (r.stderr or r.stdout).strip()[-300:]
        raise ToolchainError(f"the packed Python does not work: {out or f'exit {r.returncode}'}")


def native_python(cache_root: Path, *, machine: str | None = None) -> Path:
    """The folder of the packed interpreter (made once in ``cache_root/toolchains``, keyed by
    its version, architecture and executable), whose ``bin/python`` runs it. Made in a
    temporary folder, checked, and renamed into place, so a folder that is there works (two
    runs at once: the first rename wins). Raises ToolchainError."""
    exe = _interpreter()
    try:
        st = exe.stat()
    except OSError as e:
        raise ToolchainError(f"the interpreter {exe} cannot be read: {e}") from None
    key = hashlib.sha256(
        f"{exe}\0{st.st_size}\0{st.st_mtime_ns}\0{sys.version}".encode()
    ).hexdigest()
    version = re.sub(r"[^0-9.]", "", sys.version.split()[0])
    folder = cache_root / "toolchains" / f"python-{version}-{native_arch(machine)}-{key[:12]}"
    if (folder / "bin" / "python").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".python-", suffix=".part"))
    try:
        _pack(tmp, exe)
        with contextlib.suppress(OSError):  # another run made it first: keep that one
            os.rename(tmp, folder)
    except OSError as e:
        raise ToolchainError(f"could not pack {exe}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
