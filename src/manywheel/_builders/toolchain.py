"""The cross compilers on a builder other than this machine's engine.

Here zig is a folder of the cache, mounted read-only into the build containers. Nothing of
this machine's file system reaches another builder, so there it is a named volume of that
builder (``_cache.toolchain_volume``), filled once from that folder (zig for the builder's
architecture, downloaded here) as a tar stream into a container of the project's image, and
mounted read-only like the folder. One volume per project: the filling container runs the
project's image, which the project controls, so what it may do to the copy reaches only its
own builds. A marker written once the copy was checked says it is whole; a volume without it
(a run stopped while filling it, a copy that failed) is filled again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .._engines.protocol import ContainerEngine
from .._engines.transfer import copy_in, project_files
from .._errors import EngineError

__all__ = ["COMPLETE", "COPY_TIMEOUT", "FILL_AT", "ship_toolchain"]

COMPLETE = ".manywheel-complete"  # written once the copy was checked whole
FILL_AT = "/manywheel/toolchain"  # where the filling container mounts the volume
COPY_TIMEOUT = 900.0  # the copy (411 MB for zig 0.17.1) is ended after this many seconds


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
    is found and removed). True if it was copied now, False if it already was. The marker
    is written only once the copy is checked (zig there and executable, as many entries as
    ``root`` has): a copy cut short or damaged is made again by the next run. Raises
    EngineError."""
    engine.create_volume(volume, volume_labels)
    mount = ("--volume", f"{volume}:{FILL_AT}")
    with engine.container(image, container, labels=labels, extra_args=mount, arch=arch) as ctr:
        if engine.run_script(ctr, f"test -f {FILL_AT}/{COMPLETE}").returncode == 0:
            return False
        copy_in(engine, ctr, FILL_AT, tree=root, timeout=COPY_TIMEOUT)
        entries = len(project_files(root))
        check = (
            f"test -x {FILL_AT}/zig && "
            f'[ "$(find {FILL_AT} -mindepth 1 ! -name {COMPLETE} | wc -l)" -ge {entries} ]'
        )
        checked = engine.run_script(ctr, f"{check} && touch {FILL_AT}/{COMPLETE}")
        if checked.returncode != 0:
            raise EngineError(
                f"copying {root} into volume {volume} left an incomplete copy (no zig, or "
                f"fewer than its {entries} files and folders)"
            )
    return True
