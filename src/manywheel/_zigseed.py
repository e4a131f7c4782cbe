"""zig's cache as a seed: the glibc stubs and compiler-rt of an emulated target, built once per
image and toolchain, without a project, in the cache folder (``toolchains/zig-seed-...``).

zig builds them at a target's first link: about fifteen seconds of this machine's cores, on
each project's first build (zig's cache is the project's: a build could write anything there,
and a shared one would let one project's build put code into another's objects). Here they are
made by manywheel alone: a container of the target's image runs the build's own cross-compiler
lines (``_scripts.cross.zig_seed_script``: the wrappers, the probe, whose first link builds
them) with zig's cache in a folder of the cache, and no project in it. That folder is mounted
read-only into the builds, and a build whose zig cache does not exist yet starts it as a copy
(``layout.zig_seed``). zig checks every file of its cache as always (a manifest names the
inputs of each output, by their path under zig's lib folder, size and hash), and the seed is
made with the same paths as the builds (zig mounted at ``layout.toolchain``, its cache at
``layout.cache``/zig). The marker of the probe that passed is in it too: a build with the same
interpreter, wrappers and flags does not run the probe again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ._engines.protocol import Backend
from ._errors import ManywheelError
from ._layout import CONTAINER
from ._scripts.cross import zig_seed_script
from ._toolchain import CrossCompilers, ToolchainError, last_line, made_once

__all__ = ["zig_seed"]

SEED_FORMAT = 1  # a new format makes new seeds
SEED_TIMEOUT = 900.0  # compiler-rt: seconds natively; the probe's interpreter start under QEMU


def zig_seed(
    cache_root: Path,
    engine: Backend,
    cross: CrossCompilers,
    *,
    image: str,
    arch: str,
    python: str,
    name: str,
    labels: dict[str, str],
    announce: Callable[[], None] | None = None,
) -> Path:
    """The seed folder for ``cross`` in ``image`` (run as ``arch``, with the interpreter
    ``python`` for the probe), made once, keyed by zig's folder, the target's label and the
    image (``cross.image_key``): made in a temporary folder and renamed into place, so a folder
    that is there is whole; ``announce`` is called first when it is to be made. Raises
    ToolchainError."""
    key = hashlib.sha256(
        f"{SEED_FORMAT}\0{cross.root}\0{cross.plan.label}\0{cross.image_key}".encode()
    ).hexdigest()
    folder = cache_root / "toolchains" / f"zig-seed-{cross.plan.arch}-{key[:12]}"
    if folder.is_dir():
        return folder
    if announce is not None:
        announce()

    def fill(tmp: Path) -> Path:
        inbox, seed = tmp / "in", tmp / "zig"
        inbox.mkdir()
        seed.mkdir()
        script, files = zig_seed_script(cross, python, CONTAINER)
        for file, data in files.items():
            (inbox / file).write_bytes(data)
        mounts = (
            *("--volume", f"{cross.mount}:{CONTAINER.toolchain}:ro"),
            *("--volume", f"{inbox}:{CONTAINER.inbox}:ro"),
            *("--volume", f"{seed}:{CONTAINER.cache}/zig"),
        )
        try:
            with engine.container(image, name, labels=labels, extra_args=mounts, arch=arch) as ctr:
                r = engine.run_script(ctr, script, timeout=SEED_TIMEOUT)
        except ManywheelError as e:
            raise ToolchainError(
                f"zig's cache could not be seeded in {image}: {e.message}"
            ) from None
        if r.returncode != 0:
            why = last_line(r.stdout + r.stderr, r.returncode)
            raise ToolchainError(f"zig's cache could not be seeded in {image}: {why}")
        return seed

    return made_once(folder, fill, "zig's seed")
