"""An sdist given as the project (``manywheel build pkg-1.0.tar.gz``), unpacked on this
machine only as data: files and folders inside its one top folder, nothing else."""

from __future__ import annotations

import atexit
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from .._errors import ConfigError

__all__ = ["SDIST_SUFFIX", "is_sdist", "open_sdist", "unpack_sdist"]

SDIST_SUFFIX = ".tar.gz"


def is_sdist(path: Path) -> bool:
    return path.name.endswith(SDIST_SUFFIX) and path.is_file()


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        return "a name outside the sdist's folder"
    if not (member.isfile() or member.isdir()):
        return "neither a file nor a folder (a link or a device)"
    return None


def unpack_sdist(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest``; its one top folder (the project). ConfigError when it
    is no sdist or holds anything but files and folders inside that folder."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _member_problem(member)
                if problem is not None:
                    raise ConfigError(
                        f"{archive}: {member.name!r} is {problem}; it is not unpacked",
                        tip="build from the project folder, or from an sdist made by a build backend",
                    )
            tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
            if len(tops) != 1:
                raise ConfigError(
                    f"{archive} is not an sdist: it holds {len(tops)} top folders, not one",
                    tip="an sdist (python -m build --sdist) holds one folder, name-version/",
                )
            for member in members:
                member.mode = (member.mode or 0o644) & 0o755  # no setuid, no world-writable
                tar.extract(member, dest, set_attrs=False)
                if member.isfile():
                    (dest / member.name).chmod(member.mode)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ConfigError(f"cannot unpack the sdist {archive}: {e}") from None
    project = dest / tops.pop()
    if not project.is_dir():
        raise ConfigError(f"{archive} is not an sdist: its top entry is not a folder")
    return project


def open_sdist(archive: Path) -> Path:
    """An sdist given as the project, unpacked into a temporary folder removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="manywheel-sdist-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return unpack_sdist(archive, folder)
