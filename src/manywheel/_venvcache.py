"""Reusable build venvs: each target's venv (pip, build, build-requirements) kept as a tarball.

A venv lives at the same path in every container (``/manywheel/venv``), so a snapshot taken right
after the requirements were installed can be unpacked in a later container of the same image
and interpreter, skipping venv creation and every download and install. The key covers the
build image, the interpreter, the requirements file, the index settings and the script that
makes the venv; anything else changes nothing in the venv.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

from ._engine import QUICK_TIMEOUT, Engine
from ._errors import EngineError
from ._options import Options
from ._plan import Target
from ._requirements import requirements_digest

__all__ = ["VENV_FORMAT", "clean_venvs", "list_venvs", "save_venv", "venv_key", "venv_path"]

VENV_FORMAT = "1"


def venv_key(options: Options, target: Target, env_key: str, recipe: str) -> str:
    """``recipe``: the shell lines that make the venv and install into it."""
    data = {
        "format": VENV_FORMAT,
        "environment": env_key,
        "target": target.identifier,
        "python": target.python,
        "requirements": requirements_digest(options.build_requirements),
        "index": [options.pip_index_url, list(options.pip_extra_index_url)],
        "recipe": hashlib.sha256(recipe.encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def venv_path(cache_root: Path, key: str) -> Path:
    return cache_root / "venvs" / f"{key}.tar"


def save_venv(engine: Engine, container: str, snapshot: str, dest: Path) -> None:
    """Copy the snapshot tarball out of ``container`` into ``dest`` atomically (or not at all)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".venv-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            proc = engine.exec_(container, ["cat", snapshot], stdout=f, stderr=subprocess.PIPE)
            try:
                _, err = proc.communicate(timeout=QUICK_TIMEOUT * 5)
            finally:
                engine.registry.discard(proc)
        if proc.returncode != 0:
            raise EngineError(
                f"could not copy the venv snapshot out: {err.decode(errors='replace')}"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def list_venvs(cache_root: Path) -> list[Path]:
    folder = cache_root / "venvs"
    return sorted(folder.glob("*.tar")) if folder.is_dir() else []


def clean_venvs(cache_root: Path) -> list[Path]:
    removed = list_venvs(cache_root)
    for path in removed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return removed
