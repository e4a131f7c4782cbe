"""The build backend's hooks, each in a fresh process forked from one that imported the backend
once: run by native-build.py on the target's interpreter (emulated) as
``python hook-server.py IN_PROCESS REQUESTS REPLIES``, with the environment and working folder
a hook's process would have, for a backend known to keep nothing at import that a second hook
could not share (native-build.py's list).

Under QEMU most of a hook's time is the interpreter starting and importing the backend (4.4 s
for setuptools.build_meta on this project's machine, 0.6 s for the interpreter alone): a child
forked here starts with both done. Each hook still runs in a process of its own, as PEP 517
asks: pyproject_hooks' ``_in_process.py`` (IN_PROCESS) runs as ``__main__`` in the child, from
the state a fresh ``python _in_process.py`` reaches once it has imported the backend; what a
hook changes (globals, the environment, the working folder) dies with its child, which exits
as that script's process would (atexit handlers, buffered output). The frontend starts another
server after an install, so a hook never sees modules imported before the environment changed.

Protocol, on the pipes REQUESTS (read) and REPLIES (written): first a line ``ready`` (the
backend imported) or ``no`` (it could not be: the frontend runs each hook as a fresh process,
which reports why); then, for each request line ``HOOK CONTROL_FOLDER``, the child's exit
status, a line with the number Python's subprocess would give (negative: the signal), or
``unserved`` if it cannot fork (then it stops, and the frontend runs the hook itself). Stops at
the end of REQUESTS. Runs on whatever Python 3 the image has: keep to what Python 3.6 offers.
"""

import os
import runpy
import sys
import warnings
from importlib import import_module

# This script's folder (none with PYTHONSAFEPATH): a hook's own process has none to import from.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]
script, requests, replies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# Lines of UTF-8 ending in "\n" whatever the locale (the frontend writes them so).
reader = os.fdopen(requests, "r", encoding="utf-8", errors="surrogateescape", newline="\n")
writer = os.fdopen(replies, "w", encoding="utf-8", newline="\n")


def _import_backend():
    # type: () -> bool
    """As _in_process.py's _build_backend (no backend-path: the frontend asks for none), with
    nothing said: a warning would be lost to the hooks' record of it, an error is theirs to
    report."""
    module, _, attribute = os.environ["_PYPROJECT_HOOKS_BUILD_BACKEND"].partition(":")
    with warnings.catch_warnings(record=True) as said:  # the filters a hook's process has
        backend = import_module(module)
        for part in attribute.split(".") if attribute else ():
            backend = getattr(backend, part)
    return not said


try:
    ready = _import_backend()
except BaseException:  # the hook's own process reports it
    ready = False
writer.write("ready\n" if ready else "no\n")
writer.flush()


def _hook(hook, control):
    # type: (str, str) -> None
    """In the child: _in_process.py as the script of this process, then its exit."""
    reader.close()
    writer.close()
    sys.argv = [script, hook, control]
    runpy.run_path(script, run_name="__main__")
    # Falls off the end as the script would; SystemExit and errors go up to the interpreter.


child = None
while ready:
    line = reader.readline()
    if not line:
        break
    hook, _, control = line.rstrip("\n").partition(" ")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = os.fork()
    except (AttributeError, OSError):  # an interpreter that cannot fork here
        writer.write("unserved\n")
        writer.flush()
        break
    if child == 0:
        break
    status = os.waitpid(child, 0)[1]
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    writer.write(f"{code}\n")
    writer.flush()
if child == 0:
    _hook(hook, control)
