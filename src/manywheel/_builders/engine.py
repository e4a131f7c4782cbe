"""The container engine of a builder: docker's or podman's client, told where to go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from .._engines.container import Engine
from .._engines.process import ProcessRegistry
from .._errors import EngineError
from .endpoint import Builder

__all__ = ["builder_engine"]


def builder_engine(
    builder: Builder, registry: ProcessRegistry, *, environ: Mapping[str, str] | None = None
) -> Engine:
    """An ``Engine`` whose every call (create, exec, streams, rm, images, commit, pull,
    inspect) goes to ``builder``: its client's global arguments on every command line, its
    variables in every client's environment (``environ``, default this process's, with the
    builder's set or removed). ``builder``'s engine must be known (as discovery resolves it)."""
    if builder.engine is None:
        raise ValueError(f"builder {builder.name}: its engine is not known yet")
    binary = shutil.which(builder.engine)
    if binary is None:
        raise EngineError(
            f"builder {builder.name} ({builder.endpoint}) needs the {builder.engine} client, "
            "which is not installed here (not on PATH)",
            tip=f"install the {builder.engine} client on this machine",
        )
    env = builder.environment(os.environ if environ is None else environ)
    return Engine(
        builder.engine,
        binary,
        ProcessRegistry(parent=registry),  # its own clients, stopped alone if it is given up
        client_args=builder.args,
        client_env=env,
        where=builder.name,
    )
