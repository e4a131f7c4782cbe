"""The cross compilers on a builder other than this machine's engine.

Here zig is a folder of the cache, mounted read-only into the build containers. Nothing of
this machine's file system reaches another builder, so there it is a named volume of that
builder (``_cache.toolchain_volume``), filled once from that folder (zig for the builder's
architecture, downloaded here) as a tar stream into a container of one of the run's images,
and mounted read-only like the folder. A file written after everything else says the copy is
whole; a volume without it (a run stopped while filling it) is filled again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .._engines.protocol import ContainerEngine
from .._engines.transfer import copy_in
from .._errors import EngineError

__all__ = ["COMPLETE", "ship_toolchain"]

COMPLETE = ".manywheel-complete"  # the last file of the copy
FILL_AT = "/manywheel/toolchain"  # where the filling container mounts the volume


def ship_toolchain(
    engine: ContainerEngine,
    root: Path,
    volume: str,
    volume_labels: Mapping[str, str],
    *,
    image: str,
    arch: str | None,
    container: str,
    labels: Mapping[str, str],
) -> bool:
    """Make ``volume`` on ``engine`` hold a copy of the folder ``root``, in a container named
    ``container`` of ``image`` (run as ``arch``; labelled ``labels``, so that a killed run's
    is found and removed). True if it was copied now, False if it already was. Raises
    EngineError."""
    engine.create_volume(volume, volume_labels)
    mount = ("--volume", f"{volume}:{FILL_AT}")
    with engine.container(image, container, labels=labels, extra_args=mount, arch=arch) as ctr:
        if engine.run_script(ctr, f"test -f {FILL_AT}/{COMPLETE}").returncode == 0:
            return False
        copy_in(engine, ctr, FILL_AT, tree=root, files={COMPLETE: b""})
        if engine.run_script(ctr, f"test -x {FILL_AT}/zig").returncode != 0:
            raise EngineError(f"copying {root} into volume {volume} left no zig there")
    return True
