"""The caches manywheel keeps: prepared-environment images and the host cache folder.

manywheel owns its cache folder (``cache-dir``) and may empty parts of it, so it marks the folder
when it creates it (or first uses an empty one) with a small ``.manywheel-cache`` file, and it
never empties, adopts or cleans a folder without that marker: a cache-dir that points at the
project, the home folder or an existing folder of other files is refused, not emptied. The
marker also holds the cache's id, which labels the images this cache prepared, so that
``cache clean`` removes those and no other cache's (``--all`` removes every prepared image).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ._config.options import check_cache_dir
from ._engines.protocol import ContainerEngine
from ._errors import ConfigError
from ._venvcache import clean_venvs

__all__ = [
    "CACHE_LABEL",
    "MARKER",
    "CacheRoot",
    "PreparedImage",
    "cache_volume",
    "clean_downloads",
    "clean_prepared",
    "clean_venv_cache",
    "default_cache_dir",
    "list_prepared",
    "list_volumes",
    "open_cache_root",
    "toolchain_volume",
]

PREPARED_LABEL = "manywheel.prepared=1"
CACHE_LABEL = "manywheel.cache"  # on a prepared image or volume: the id of the cache it is of
VOLUME_LABEL = "manywheel.volume"  # on a builder's volume: downloads or toolchain
PROJECT_LABEL = "manywheel.project"  # ...and whose: the project's namespace (see _venvcache)
MARKER = ".manywheel-cache"
MARKER_FORMAT = 1
DOWNLOAD_PARTS = ("shared", "downloads", "toolchains")  # what `cache clean --downloads` removes
_SET_BY = "cache-dir (in [tool.manywheel], manywheel.toml, MANYWHEEL_CACHE_DIR or --cache-dir)"


@dataclass(frozen=True)
class CacheRoot:
    """A cache folder manywheel owns. ``id`` is None while it has no marker yet (a folder that
    does not exist, or the default folder as an older manywheel left it)."""

    path: Path
    id: str | None


def default_cache_dir() -> Path:
    return platformdirs.user_cache_path("manywheel")


def open_cache_root(
    path: Path | None, *, project_dir: Path | None = None, create: bool = True
) -> CacheRoot:
    """The cache folder (``None``: the user cache folder), checked and, with ``create``, made
    and marked. Raises ConfigError for a folder manywheel must not own (see the module doc)."""
    root = path if path is not None else default_cache_dir()
    if path is not None:
        check_cache_dir(path, project_dir, None)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"cache-dir {root} is not a folder", tip=f"point {_SET_BY} at a folder")
    cache_id = _read_marker(root)
    if cache_id is not None:
        return CacheRoot(root, cache_id)
    # The default folder is manywheel's by its name: older versions made it without a marker,
    # so it is adopted as it is. Any other folder must be new or empty.
    default = path is None or root.resolve() == default_cache_dir().resolve()
    # A marker another run is writing right now (its temporary file) does not count.
    others = root.iterdir() if root.is_dir() else iter(())
    if not default and any(not p.name.startswith(MARKER) for p in others):
        raise ConfigError(
            f"cache-dir {root} is a folder manywheel did not make (it holds files and no "
            f"{MARKER} marker); manywheel will neither use nor empty it",
            tip=f"point {_SET_BY} at a new or empty folder; if an older manywheel made this "
            "cache, delete the folder yourself and let manywheel make it again",
        )
    if not create:
        return CacheRoot(root, None)
    root.mkdir(parents=True, exist_ok=True)
    return CacheRoot(root, _write_marker(root))


def _read_marker(root: Path) -> str | None:
    marker = root / MARKER
    try:
        data = json.loads(marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read the cache marker {marker}: {e}",
            tip="delete the marker only if the folder holds nothing but manywheel's cache, or "
            "point cache-dir at another folder",
        ) from None
    cache_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(cache_id, str) or not cache_id.isalnum():
        raise ConfigError(
            f"the cache marker {marker} has no valid id",
            tip="delete the marker only if the folder holds nothing but manywheel's cache, or "
            "point cache-dir at another folder",
        )
    return cache_id


def _write_marker(root: Path) -> str:
    """Write the marker in one step, unless another run just did: then that one's id holds."""
    data = {
        "what": "manywheel's cache folder: `manywheel cache clean` may empty its "
        "shared/, downloads/, toolchains/ and venvs/ parts",
        "id": secrets.token_hex(8),
        "format": MARKER_FORMAT,
    }
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f"{MARKER}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, root / MARKER)
    finally:
        os.unlink(tmp)
    return _read_marker(root) or str(data["id"])


def _remove(path: Path) -> bool:
    """Remove a file or folder without following a symlink out of the cache folder."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return False
    return True


def clean_downloads(root: CacheRoot) -> list[Path]:
    """Remove the download parts of a cache folder manywheel made; nothing else in it."""
    return [root.path / name for name in DOWNLOAD_PARTS if _remove(root.path / name)]


def clean_venv_cache(root: CacheRoot) -> list[Path]:
    """Remove the cached build venvs (a symlinked venvs/ only loses the link)."""
    venvs = root.path / "venvs"
    if venvs.is_symlink():
        venvs.unlink()
        return []
    return clean_venvs(root.path)


@dataclass(frozen=True)
class PreparedImage:
    tag: str
    image_id: str
    created: str
    size: str

    @property
    def ref(self) -> str:
        """What removes it: its tag, or its id when it lost the tag to a newer image."""
        return self.image_id if "<none>" in self.tag else self.tag


def list_prepared(
    engine: ContainerEngine, cache_id: str | None, *, every: bool = False
) -> list[PreparedImage]:
    """The prepared images this cache committed (``every``: all of manywheel's on the engine)."""
    if every:
        label = PREPARED_LABEL
    elif cache_id is None:
        return []
    else:
        label = f"{CACHE_LABEL}={cache_id}"
    rows = engine.images(label)
    return [
        PreparedImage(
            tag=f"{row.get('Repository', '?')}:{row.get('Tag', '?')}",
            image_id=row.get("ID", "?"),
            created=row.get("CreatedSince", "?"),
            size=row.get("Size", "?"),
        )
        for row in rows
    ]


def clean_prepared(engine: ContainerEngine, images: list[PreparedImage]) -> list[str]:
    """Remove ``images`` (from ``list_prepared``); their tags."""
    for image in images:
        engine.remove_image(image.ref)
    return [image.tag for image in images]


def cache_volume(cache_id: str, namespace: str) -> tuple[str, dict[str, str]]:
    """The name and labels of the named volume that is, on a builder other than this
    machine's engine, what the cache folder's ``downloads/<namespace>`` is here: one project's
    (``namespace``) downloads and ccache for one cache folder (``cache_id``, random per cache
    folder, so that the same project path on two machines sharing a builder shares nothing).
    Labelled so that ``cache list`` and ``cache clean --downloads`` find it."""
    name = f"manywheel-cache-{cache_id}-{namespace}"
    return name, {CACHE_LABEL: cache_id, VOLUME_LABEL: "downloads", PROJECT_LABEL: namespace}


def toolchain_volume(cache_id: str, namespace: str, toolchain: str) -> tuple[str, dict[str, str]]:
    """The name and labels of the named volume that is, on a builder other than this
    machine's engine, what the cache folder's ``toolchains/<toolchain>`` is here (zig for that
    builder's architecture: ``zig-0.17.1-x86_64``), for one project (``namespace``): it is
    filled in a container of the project's image, which the project controls, so no other
    project's build ever mounts it. Mounted read-only into builds; ``cache clean --downloads``
    removes it with the download volumes."""
    name = f"manywheel-toolchain-{cache_id}-{namespace}-{toolchain}"
    return name, {CACHE_LABEL: cache_id, VOLUME_LABEL: "toolchain", PROJECT_LABEL: namespace}


def list_volumes(
    engine: ContainerEngine, cache_id: str | None, *, every: bool = False
) -> list[str]:
    """The cache volumes of this cache folder on ``engine`` (``every``: all of manywheel's)."""
    if not every and cache_id is None:
        return []
    found = engine.volumes(VOLUME_LABEL)
    return found if every else sorted(set(found) & set(engine.volumes(f"{CACHE_LABEL}={cache_id}")))
