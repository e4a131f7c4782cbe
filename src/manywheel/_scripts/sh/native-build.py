"""``python -m build --wheel --installer=uv`` for an emulated target, run by the native Python
(manywheel, cross-compilers = "auto"): the build venv's own ``build`` package, through its
public API (ProjectBuilder.from_isolated_env, IsolatedEnv), with the isolated environment made
by uv for the target's interpreter. The build backend's hooks run in that environment, under
QEMU, each in a process of its own, as ``python -m build`` runs them (see --hook-server); only
the frontend around them (seconds of QEMU per target) runs natively. Prints build's step
lines. Exits 1 on a failed build, with build's message.

With --compile-with, a native CPython of the target's version compiles what each install put
in the environment to bytecode (into PYTHONPYCACHEPREFIX when it is set), as the target's
interpreter would on import: a .pyc depends on Python's version, not on the machine. The hooks
then import the backend without compiling it under QEMU. Python checks each .pyc against its
source's mtime and size as always; one it cannot use (another magic number) it compiles again.

With --hook-server, the hooks of a backend in FORKED_BACKENDS run each in a fresh process
forked from one that imported the backend once (hook-server.py, on the target's interpreter):
under QEMU that import is most of a hook's time. Another server is started after each install,
and any other backend (or one the server cannot import) has each hook run as its own
``python _in_process.py``, as build runs them.

Arguments: --paths FOLDERS (where the build venv imports build from), --python (the build
venv's interpreter, the environment's base), --uv, --compile-with PYTHON, --hook-server
SCRIPT, --outdir, --env-dir (none: a temporary folder), --installer=uv, -C KEY=VALUE (config
settings, as build reads them), the project folder.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import TextIO

parser = argparse.ArgumentParser(prog="native-build.py")
parser.add_argument("--paths", required=True)
parser.add_argument("--python", required=True)
parser.add_argument("--uv", required=True)
parser.add_argument("--compile-with")
parser.add_argument("--hook-server")
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


# Backends whose import leaves nothing a second hook could not share (no threads, temporary
# files or open handles made at import): their hooks are forked from one process that
# imported them. setuptools is checked by the cross builds' tests; others are run as build
# runs them until they are.
FORKED_BACKENDS = frozenset({"setuptools.build_meta", "setuptools.build_meta:__legacy__"})


class HookRunner:
    """build's runner of the backend's hooks (as pyproject_hooks' default runner: the command
    with the extra environment, CalledProcessError if it fails), which hands a hook of a
    backend in FORKED_BACKENDS to a hook-server.py started with the same interpreter, script,
    working folder and environment the hook's own process would have."""

    def __init__(self, server: str | None) -> None:
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None
        self.key: object = None
        self.requests: TextIO | None = None
        self.replies: TextIO | None = None

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {**os.environ, **(extra_environ or {})}
        code = self._forked(list(cmd), cwd, env)
        if code is None:
            code = subprocess.run(list(cmd), cwd=cwd, env=env, check=False).returncode
        if code != 0:
            raise subprocess.CalledProcessError(code, list(cmd))

    def _forked(self, cmd: list[str], cwd: str | None, env: dict[str, str]) -> int | None:
        """The hook's exit status from the server; None: run it as a process of its own."""
        backend = env.get("_PYPROJECT_HOOKS_BUILD_BACKEND")
        if (
            self.server is None
            or len(cmd) != 4  # [python, _in_process.py, hook, control folder]
            or "\n" in cmd[3]  # a request is a line
            or "\r" in cmd[3]
            or backend not in FORKED_BACKENDS
            or "_PYPROJECT_HOOKS_BACKEND_PATH_JSON" in env
        ):
            return None
        key = (cmd[0], cmd[1], cwd, sorted(env.items()))
        if self.key != key:
            self.stop()
        if self.proc is None and not self._start(cmd, cwd, env, backend):
            return None
        self.key = key
        assert self.requests is not None
        assert self.replies is not None
        try:
            self.requests.write(f"{cmd[2]} {cmd[3]}\n")
            self.requests.flush()
        except OSError:  # the server ended before this hook: it runs as its own process
            self.stop()
            return None
        reply = self.replies.readline()
        if reply.strip().lstrip("-").isdigit():
            return int(reply)
        if reply == "unserved\n":  # it cannot fork: this hook and the next run as build runs them
            self.stop()
            self.server = None
            return None
        code = self.stop()  # the server died with the hook: the hook failed
        return code or 1

    def _start(self, cmd: list[str], cwd: str | None, env: dict[str, str], backend: str) -> bool:
        assert self.server is not None
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        argv = [cmd[0], self.server, cmd[1], str(requests_r), str(replies_w)]
        try:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=env, pass_fds=(requests_r, replies_w))
        except OSError:
            self.proc = None
        os.close(requests_r)
        os.close(replies_w)
        # Lines of UTF-8 ending in "\n" whatever the locale, as the server reads and writes them.
        self.requests = os.fdopen(
            requests_w, "w", encoding="utf-8", errors="surrogateescape", newline="\n"
        )
        self.replies = os.fdopen(
            replies_r, "r", encoding="utf-8", errors="surrogateescape", newline="\n"
        )
        if self.proc is not None and self.replies.readline() == "ready\n":
            print(
                f"manywheel: backend hooks: each in a process forked from one that imported"
                f" {backend} once",
                flush=True,
            )
            return True
        self.stop()
        self.server = None  # it cannot import the backend: every hook reports it as its own
        return False

    def stop(self) -> int | None:
        """Ends the server (at the end of its requests); its exit status."""
        for pipe in (self.requests, self.replies):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.requests = self.replies = None
        self.key = None
        proc, self.proc = self.proc, None
        return None if proc is None else proc.wait()


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

runner = HookRunner(args.hook_server)
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
    builder = build.ProjectBuilder.from_isolated_env(env, args.srcdir, runner=runner)
    env.install(builder.build_system_requires)
    print("* Getting build dependencies for wheel...", flush=True)
    requires = builder.get_requires_for_build("wheel", settings)
    if requires:
        runner.stop()  # the next hook's process starts after the install, as it would
    env.install(requires)
    print("* Building wheel...", flush=True)
    os.makedirs(args.outdir, exist_ok=True)
    built = builder.build("wheel", args.outdir, settings)
    print(f"Successfully built {os.path.basename(built)}", flush=True)
except build.BuildBackendException as e:
    sys.exit(f"ERROR {e}")  # build's: "Backend subprocess exited when trying to invoke ..."
except (build.BuildException, subprocess.CalledProcessError) as e:
    sys.exit(f"ERROR {e}")
finally:
    runner.stop()
    if temporary:
        shutil.rmtree(path, ignore_errors=True)
