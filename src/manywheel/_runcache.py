"""One run's use of the caches (see ``_cache`` and ``_cacheprune``): the cache folder, made
and marked on first use; this project's parts of it and the prepared images the run uses,
held until the run ends; the prune of what no run used for ``cache-keep-days``; what a
target's containers mount of it, here or, on a builder, that builder's volume of the project's
downloads."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from pathlib import Path

from ._builders.fleet import Place
from ._cache import CACHE_LABEL, CacheRoot, cache_volume, open_cache_root
from ._cacheprune import (
    namespace_in_use,
    prepared_in_use,
    prune_prepared,
    prune_unused,
    toolchain_in_use,
    unused_namespaces,
)
from ._config.options import Options
from ._engines.protocol import ContainerEngine
from ._errors import EngineError
from ._events import Emitter
from ._layout import CONTAINER
from ._venvcache import project_namespace

__all__ = ["RunCache"]

# A builder's volume of a project's caches (see _cache): manywheel-(cache|toolchain)-ID-NS[-...]
_VOLUME = re.compile(r"manywheel-(?:cache|toolchain)-([0-9A-Za-z]+)-([0-9a-f]{16})(?:-.+)?")


class RunCache:
    """The caches of one run of the project ``options`` describe; ``close`` ends its holds."""

    def __init__(self, options: Options, emitter: Emitter) -> None:
        self.options = options
        self.emitter = emitter
        self._cache: CacheRoot | None = None
        self._lock = threading.Lock()
        self._held = contextlib.ExitStack()
        self._prepared_held: set[str] = set()  # the preparations' keys this run holds
        self._toolchains_held: set[str] = set()  # the toolchain folders' names it holds
        self._volumes: dict[str, str] = {}  # builder -> its cache volume, once made
        self._volume_lock = threading.Lock()

    def close(self) -> None:
        """The run is over: its holds on the project's caches and prepared images end."""
        self._held.close()

    def _open(self) -> CacheRoot:
        """The cache folder, made and marked on first use; from then on, until ``close``,
        this project's parts of it are in use (no prune removes them, see _cacheprune)."""
        with self._lock:
            if self._cache is None:
                opts = self.options
                root = open_cache_root(opts.cache_dir, project_dir=opts.project_dir)
                try:
                    self._held.enter_context(namespace_in_use(root.path, self.namespace()))
                except OSError as e:  # a read-only cache folder: used as it is
                    self.emitter.warning(
                        f"cannot mark this project's caches in {root.path} as in use ({e}); "
                        "another project's run may prune them meanwhile"
                    )
                self._cache = root
            return self._cache

    def root(self) -> Path:
        """manywheel's host cache folder (``cache-dir``)."""
        return self._open().path

    def id(self) -> str:
        """The cache folder's id: it labels what this cache made on engines."""
        return str(self._open().id)

    def namespace(self) -> str:
        """This project's part of the caches: what one project's builds write, no other
        project's build ever reads (see the README's security model)."""
        return project_namespace(self.options.source_archive or self.options.project_dir)

    def shared(self) -> Path | None:
        """The part of the cache folder that this project's builds may write (downloads,
        ccache), if enabled. Only this is mounted: never the cached venvs, never another
        project's downloads."""
        if not self.options.shared_cache:
            return None
        shared = self.root() / "downloads" / self.namespace()
        shared.mkdir(parents=True, exist_ok=True)
        return shared

    def hold_prepared(self, key: str) -> None:
        """Hold the prepared image of the preparation ``key`` until ``close``: no prune
        removes it meanwhile (see _cacheprune)."""
        self._hold(self._prepared_held, key, prepared_in_use, f"the prepared environment {key}")

    def hold_toolchain(self, path: Path) -> None:
        """Hold the toolchain folder that ``path`` is (or is in) until ``close``: no prune
        removes it meanwhile (see _cacheprune)."""
        try:
            name = path.relative_to(self.root() / "toolchains").parts[0]
        except (ValueError, IndexError):  # not in this cache's toolchains
            return
        self._hold(self._toolchains_held, name, toolchain_in_use, f"the toolchain {name}")

    def _hold(
        self,
        held: set[str],
        key: str,
        in_use: Callable[[Path, str], contextlib.AbstractContextManager[None]],
        what: str,
    ) -> None:
        with self._lock:
            if key in held:
                return
            held.add(key)
        try:
            self._held.enter_context(in_use(self.root(), key))
        except OSError as e:  # a read-only cache folder: used as it is
            self.emitter.warning(
                f"cannot mark {what} as in use ({e}); another project's run may prune it meanwhile"
            )

    def prune(self, engine: ContainerEngine | None) -> None:
        """Remove other projects' caches unused for ``cache-keep-days`` (at most once a day),
        and ``engine``'s prepared images of this cache unused as long (None: this machine's
        engine is not used); only when this run uses the cache folder."""
        opts = self.options
        if opts.cache_keep_days <= 0:
            return
        with self._lock:
            preparing = bool(self._prepared_held)
        if opts.shared_cache or opts.cache_venv:
            self._prune_projects()
        if engine is not None and (opts.shared_cache or opts.cache_venv or preparing):
            self._prune_prepared(engine, "")

    def _prune_projects(self) -> None:
        opts = self.options
        root = self.root()
        try:
            pruned = prune_unused(root, opts.cache_keep_days, current=self.namespace())
        except OSError as e:  # the build needs no prune
            self.emitter.warning(f"could not prune the cache folder {root}: {e}")
            return
        if pruned is not None and (pruned.namespaces or pruned.toolchains):
            what = [f"the cached venvs and downloads of {len(pruned.namespaces)} project(s)"]
            what += [f"{len(pruned.toolchains)} toolchain(s)"] if pruned.toolchains else []
            self.emitter.info(
                f"removed from {root} {' and '.join(what)} no build used for "
                f"{opts.cache_keep_days} days ({pruned.size / 1e6:.0f} MB)"
            )
        for problem in pruned.failed if pruned is not None else ():
            self.emitter.warning(f"could not remove an unused project's caches: {problem}")

    def _prune_prepared(self, engine: ContainerEngine, where: str) -> None:
        """Remove ``engine``'s prepared images of this cache that no build has used for
        ``cache-keep-days``, and its untagged ones (``where``: on which builder)."""
        keep = self.options.cache_keep_days
        try:
            gone = prune_prepared(engine, self.root(), self.id(), keep)
        except (EngineError, OSError) as e:  # the build needs no prune
            self.emitter.warning(f"could not prune the prepared images{where}: {e}")
            return
        if gone:
            self.emitter.info(
                f"removed{where} the prepared images no build used for {keep} days, or that "
                f"a newer one replaced: {', '.join(gone)}"
            )

    def mount_args(self, options: Options, place: Place | None = None) -> tuple[str, ...]:
        """Arguments for a target's containers: the shared cache mount, then the user's. On a
        builder other than this machine's engine (``place``), nothing of this machine is
        mounted: the cache is that builder's named volume for this project."""
        args = options.engine_args
        if place is not None and not place.local:
            volume = self.volume(place) if self.options.shared_cache else None
            return args if volume is None else ("--volume", f"{volume}:{CONTAINER.cache}", *args)
        shared = self.shared()
        return args if shared is None else ("--volume", f"{shared}:{CONTAINER.cache}", *args)

    def volume(self, place: Place) -> str:
        """``place``'s named volume for this project's downloads and ccache (what ``shared``
        is on this machine), made on first use."""
        with self._volume_lock:
            first = place.name not in self._volumes
            if first:
                name, labels = cache_volume(self.id(), self.namespace())
                place.engine.create_volume(name, labels)
                self._volumes[place.name] = name
            volume = self._volumes[place.name]
        if first:  # outside the lock: a slow builder holds no other's first use
            self._prune_builder(place)
        return volume

    def _prune_builder(self, place: Place) -> None:
        """Remove ``place``'s cache and toolchain volumes of this cache folder's projects that
        no build has used for ``cache-keep-days`` (their caches here are pruned by then), and
        its prepared images of this cache unused as long, but none a container uses. A
        builder that fails to say is left as it is."""
        keep = self.options.cache_keep_days
        if keep <= 0:
            return
        self._prune_prepared(place.engine, f" on builder {place.name}")
        cache_id = self.id()
        try:
            names = place.engine.volumes(f"{CACHE_LABEL}={cache_id}")
        except EngineError:
            return
        of = {
            n: m.group(2) for n in names if (m := _VOLUME.fullmatch(n)) and m.group(1) == cache_id
        }
        unused = unused_namespaces(self.root(), set(of.values()), keep, current=self.namespace())
        stale = sorted(n for n, ns in of.items() if ns in unused)
        try:
            place.engine.remove_volumes(stale, force=False)
            left = set(place.engine.volumes(f"{CACHE_LABEL}={cache_id}")) if stale else set()
        except EngineError:
            return
        gone = [n for n in stale if n not in left]  # a volume in use stays
        if gone:
            self.emitter.info(
                f"builder {place.name}: removed the cache volumes of projects no build used "
                f"for {keep} days: {', '.join(gone)}"
            )
