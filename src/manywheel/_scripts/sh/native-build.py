"""``python -m build --wheel --installer=uv`` for an emulated target, run by the native Python
(manywheel, cross-compilers = "auto"): the build venv's own ``build`` package, through its
public API (ProjectBuilder.from_isolated_env, IsolatedEnv), with the isolated environment made
by uv for the target's interpreter. The build backend's hooks run in that environment, under
QEMU, each in a process of its own, exactly as ``python -m build`` runs them; only the frontend
around them (seconds of QEMU per target) runs natively. Prints build's step lines. Exits 1 on
a failed build, with build's message.

With --compile-with, a native CPython of the target's version compiles what each install put
in the environment to bytecode (into PYTHONPYCACHEPREFIX when it is set), as the target's
interpreter would on import: a .pyc depends on Python's version, not on the machine. The hooks
then import the backend without compiling it under QEMU. Python checks each .pyc against its
source's mtime and size as always; one it cannot use (another magic number) it compiles again.

Arguments: --paths FOLDERS (where the build venv imports build from), --python (the build
venv's interpreter, the environment's base), --uv, --compile-with PYTHON, --outdir, --env-dir
(none: a temporary folder), --installer=uv, -C KEY=VALUE (config settings, as build reads
them), the project folder.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser(prog="native-build.py")
parser.add_argument("--paths", required=True)
parser.add_argument("--python", required=True)
parser.add_argument("--uv", required=True)
parser.add_argument("--compile-with")
parser.add_argument("--outdir", required=True)
parser.add_argument("--env-dir")
parser.add_argument("--installer", choices=["uv"], default="uv")  # build's word; uv only
parser.add_argument("-C", dest="settings", action="append", default=[])
parser.add_argument("srcdir")
args = parser.parse_args()
sys.path[1:1] = args.paths.split(":")

import build  # noqa: E402 - from the build venv's folders
from build.env import IsolatedEnv  # noqa: E402

# Run by the --compile-with Python: timestamp .pyc files (the import system's kind, whatever
# SOURCE_DATE_EPOCH says), errors left to the import that meets them; prints what compiled.
COMPILE = """\
import compileall, platform, py_compile, sys
mode = py_compile.PycInvalidationMode.TIMESTAMP
for folder in sys.argv[1:]:
    compileall.compile_dir(folder, quiet=2, invalidation_mode=mode)
print(platform.machine(), platform.python_version())
"""


def _quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    """Run uv; its output is shown if it fails (as build shows its installer's)."""
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if r.returncode != 0:
        sys.stdout.write(r.stdout.decode(errors="replace"))
        raise subprocess.CalledProcessError(r.returncode, cmd)


class TargetEnv(IsolatedEnv):
    """build's isolated environment, of the target's interpreter, made and filled by uv."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def python_executable(self) -> str:
        return os.path.join(self.path, "bin", "python")

    def make_extra_environ(self) -> dict[str, str]:
        # As build's own: its scripts first on PATH, no PYTHONPATH of the caller's.
        path = os.environ.get("PATH")
        scripts = os.path.join(self.path, "bin")
        return {"PATH": scripts + os.pathsep + path if path else scripts, "PYTHONPATH": ""}

    def create(self) -> None:
        uv = [args.uv, "venv", "--quiet", "--no-project", "--no-config", "--python", args.python]
        _quiet([*uv, self.path])

    def install(self, requirements: set[str]) -> None:
        if not requirements:
            return
        print("* Installing packages in isolated environment:", flush=True)
        for r in sorted(requirements):
            print(f"  - {r}", flush=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["VIRTUAL_ENV"] = self.path
        cmd = [args.uv, "pip", "install", *requirements, "--python", self.python_executable]
        _quiet(cmd, env)
        self.compile()

    def compile(self) -> None:
        """The environment's bytecode, by the --compile-with Python; if it fails, the hooks'
        interpreter compiles what it imports, as without it."""
        if not args.compile_with:
            return
        folders = sorted(glob.glob(os.path.join(self.path, "lib", "python*", "site-packages")))
        prefix = os.environ.get("PYTHONPYCACHEPREFIX")
        cmd = [args.compile_with, "-I", "-B"]  # -B: no bytecode of its own standard library
        cmd += ["-X", f"pycache_prefix={prefix}"] if prefix else []
        r = subprocess.run([*cmd, "-c", COMPILE, *folders], capture_output=True, check=False)
        said = r.stdout.decode(errors="replace").split()
        if r.returncode == 0 and len(said) == 2:
            print(
                f"manywheel: bytecode of the isolated environment compiled natively"
                f" ({said[0]} Python {said[1]})",
                flush=True,
            )
        else:
            why = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()
            print(
                "manywheel: bytecode: the native Python could not compile it"
                f" ({why[-1] if why else f'exit {r.returncode}'}); the hooks compile it",
                flush=True,
            )


settings: dict[str, str | list[str]] = {}  # as build's command line: {} when none
for item in args.settings:  # as build's command line: a key given again makes a list
    key, _, value = item.partition("=")
    known = settings.get(key)
    if known is None:
        settings[key] = value
    elif isinstance(known, list):
        known.append(value)
    else:
        settings[key] = [known, value]

temporary = args.env_dir is None
path = tempfile.mkdtemp(prefix="build-env-") if temporary else args.env_dir
try:
    if os.path.isdir(path) and os.listdir(path) and not temporary:
        sys.exit(f"ERROR Build environment location is not empty: {path}")
    print("* Creating isolated environment: venv+uv...", flush=True)
    env = TargetEnv(os.path.realpath(path))
    if temporary:
        os.rmdir(path)  # uv makes it
    env.create()
    builder = build.ProjectBuilder.from_isolated_env(env, args.srcdir)
    env.install(builder.build_system_requires)
    print("* Getting build dependencies for wheel...", flush=True)
    env.install(builder.get_requires_for_build("wheel", settings))
    print("* Building wheel...", flush=True)
    os.makedirs(args.outdir, exist_ok=True)
    built = builder.build("wheel", args.outdir, settings)
    print(f"Successfully built {os.path.basename(built)}", flush=True)
except build.BuildBackendException as e:
    sys.exit(f"ERROR {e}")  # build's: "Backend subprocess exited when trying to invoke ..."
except (build.BuildException, subprocess.CalledProcessError) as e:
    sys.exit(f"ERROR {e}")
finally:
    if temporary:
        shutil.rmtree(path, ignore_errors=True)
