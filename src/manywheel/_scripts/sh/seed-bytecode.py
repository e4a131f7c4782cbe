"""Seed a bytecode cache folder (PYTHONPYCACHEPREFIX) with an interpreter's own compiled
standard library: ``python seed-bytecode.py PREFIX`` run by the target's interpreter, or
``NATIVE seed-bytecode.py PREFIX PYTHON`` run by a native Python for the target's interpreter
PYTHON, which then only says its cache tag and standard library (one short start under QEMU,
where the whole seed by it takes seconds).

With a cache prefix, Python reads and writes every ``.pyc`` under PREFIX (mirroring the source's
absolute path) and ignores the ``__pycache__`` folders of the image: without this seed, the first
build in a new prefix would compile the standard library it imports again, which under QEMU costs
seconds. The image's files are copied as they are (each says which source mtime and size it was
compiled from, so Python checks them as it checks its own). Once per prefix and interpreter (a
marker file); each file is written under a temporary name and renamed, so a build running at the
same time reads a whole file or none. Keep to what Python 3.8 offers.
"""

import os
import shutil
import subprocess
import sys

ASK = "import os, sys; print(sys.implementation.cache_tag); print(os.path.dirname(os.__file__))"

prefix = sys.argv[1]
if len(sys.argv) > 2:  # for another interpreter: its answers
    said = subprocess.run([sys.argv[2], "-S", "-c", ASK], capture_output=True, check=False)
    if said.returncode != 0 or len(said.stdout.splitlines()) != 2:
        sys.exit(f"manywheel: bytecode cache: {sys.argv[2]} did not say its standard library")
    said_tag, stdlib = said.stdout.decode().splitlines()
    tag = None if said_tag == "None" else said_tag
else:
    tag, stdlib = sys.implementation.cache_tag, os.path.dirname(os.__file__)
marker = os.path.join(prefix, ".seeded-" + str(tag))
if tag is None or os.path.exists(marker):
    sys.exit(0)
suffix = "." + tag + ".pyc"
copied = 0
for folder, dirs, files in os.walk(stdlib):
    if os.path.basename(folder) != "__pycache__":
        dirs[:] = [d for d in dirs if d not in ("test", "idlelib", "tkinter", "turtledemo")]
        continue
    dest = os.path.join(prefix, os.path.dirname(folder).lstrip(os.sep))
    names = [n for n in files if n.endswith(suffix)]  # not .opt-1/.opt-2, nor other tags
    if names:
        os.makedirs(dest, exist_ok=True)
    for name in names:
        target = os.path.join(dest, name)
        if os.path.exists(target):
            continue
        part = f"{target}.{os.getpid()}.part"
        shutil.copyfile(os.path.join(folder, name), part)
        os.replace(part, target)
        copied += 1
os.makedirs(prefix, exist_ok=True)
with open(marker, "w") as f:
    f.write(f"{copied} files from {stdlib}\n")
print(f"manywheel: bytecode cache: seeded with {copied} compiled modules of {stdlib}")
