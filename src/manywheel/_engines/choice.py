"""The ``engine`` option: which backend a run builds with."""

from __future__ import annotations

from collections.abc import Callable

from .._errors import EngineError
from .container import detect_engine
from .process import ProcessRegistry
from .protocol import Backend, ContainerEngine

__all__ = ["HOST", "container_engine_for", "host_mode", "pick_backend"]

HOST = "host"  # the engine choice that builds on this machine


def host_mode(choice: str) -> bool:
    """True when ``choice`` (the ``engine`` option) builds on this machine: no containers, no
    images, nothing prepared."""
    return choice == HOST


def pick_backend(
    choice: str,
    registry: ProcessRegistry,
    *,
    host: Callable[[], Backend],
    fallback: Callable[[EngineError], None],
) -> Backend:
    """The backend for ``choice``: host mode, docker or podman, or ``auto``: docker if its
    daemon answers, else podman, else host mode (``fallback`` is told why first)."""
    if host_mode(choice):
        return host()
    try:
        return detect_engine(choice, registry)
    except EngineError as e:
        if choice != "auto":
            raise
        fallback(e)
        return host()


def container_engine_for(choice: str) -> ContainerEngine | None:
    """The container engine ``choice`` names (detected: EngineError if none answers), or None
    in host mode, where there are no images."""
    return None if host_mode(choice) else detect_engine(choice)
