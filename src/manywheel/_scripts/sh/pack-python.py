"""Pack the interpreter running this script into the empty folder DEST, to run in any container
of its machine's architecture: ``python -I pack-python.py DEST`` (see manywheel._nativepython).

DEST gets ``bin/pythonX.Y.elf`` (the executable), ``lib/pythonX.Y`` (the standard library
without its tests, IDLE, tkinter, ensurepip, site-packages and optimized bytecode), in ``lib``
every shared library these load (found with ``ldd``) and the dynamic loader they name,
``bin/python`` (started by that loader, which searches only ``lib``; with ``--argv0`` Python
finds its prefix, DEST, from its own path) and ``act-for.py``. An extension module whose
libraries are not all found is left out (its import fails, as where the library is missing).
Run on this machine by its interpreter, or in a container of an image by the image's. Errors:
one line on stderr, exit 1. Keep to what Python 3.8 offers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

# Folders of the standard library no tool of a build needs (their size: about 180 MB of 260).
SKIPPED = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
SKIPPED |= {"site-packages", "dist-packages"}
SKIPPED_MODULES = ("_tkinter", "_test", "xxlimited", "xxsubtype", "_xxtestfuzz", "_ctypes_test")

LAUNCHER = """\
#!/bin/sh
# manywheel: {python}, with the libraries it loads;
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


class PackError(Exception):
    pass


def ldd(path: str) -> tuple[list[str], str | None]:
    """The shared libraries ``path`` loads (recursively, as ``ldd`` lists them) and the dynamic
    loader it names. Raises PackError if ldd fails or a library is not found."""
    try:
        r = subprocess.run(["ldd", path], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PackError(f"ldd could not run: {e}") from None
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace") or out
        raise PackError(f"ldd {path} failed: {err.strip()[-200:]}")
    libs: list[str] = []
    loader = None
    for line in out.splitlines():
        words = line.split()
        if "=>" in words:
            target = words[words.index("=>") + 1]
            if target == "not":
                raise PackError(f"{path} needs {words[0]}, which is not found")
            if target.startswith("/"):
                libs.append(target)
        elif words and words[0].startswith("/") and "/ld-" in words[0]:
            loader = words[0]
    return libs, loader


def copy_stdlib(stdlib: str, dest: str) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = os.path.samefile(folder, stdlib)
        return {
            n
            for n in names
            if (top and n in SKIPPED)
            or (top and n.startswith("config-"))
            or n.startswith(SKIPPED_MODULES)
            or n.endswith((".opt-1.pyc", ".opt-2.pyc"))
        }

    shutil.copytree(stdlib, dest, symlinks=False, ignore=ignore)


def pack(dest: str) -> None:
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    stdlib = sysconfig.get_path("stdlib")
    if os.path.basename(stdlib) != name or not os.path.isfile(os.path.join(stdlib, "os.py")):
        raise PackError(f"the standard library of {exe} is not a {name} folder ({stdlib})")
    if os.listdir(dest):
        raise PackError(f"{dest} is not empty")
    lib = os.path.join(dest, "lib")
    os.mkdir(lib)
    copy_stdlib(stdlib, os.path.join(lib, name))
    libs, loader = ldd(exe)
    if loader is None or "ld-linux" not in os.path.basename(loader):
        raise PackError(f"{exe} names no glibc dynamic loader (ld-linux)")
    found = {os.path.basename(p): p for p in libs}
    dynload = os.path.join(lib, name, "lib-dynload")
    modules = sorted(os.listdir(dynload)) if os.path.isdir(dynload) else []
    for module in (os.path.join(dynload, m) for m in modules if m.endswith(".so")):
        try:
            more, _ = ldd(module)
        except PackError:
            os.unlink(module)
            continue
        for p in more:
            found.setdefault(os.path.basename(p), p)
    for path in [*found.values(), loader]:
        shutil.copy2(path, os.path.join(lib, os.path.basename(path)))  # the library itself
    os.mkdir(os.path.join(dest, "bin"))
    elf = f"{name}.elf"
    shutil.copy2(exe, os.path.join(dest, "bin", elf))
    launcher = os.path.join(dest, "bin", "python")
    what = f"Python {sys.version.split()[0]} ({exe})"
    with open(launcher, "w") as f:
        f.write(LAUNCHER.format(python=what, loader=os.path.basename(loader), exe=elf))
    os.chmod(launcher, 0o755)
    with open(os.path.join(dest, "act-for.py"), "w") as f:
        f.write(ACT_FOR)


if __name__ == "__main__":
    try:
        pack(sys.argv[1])
    except (PackError, OSError) as e:
        sys.exit(f"pack-python: {e}")
