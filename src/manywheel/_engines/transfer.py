"""Move files into and out of containers as tar streams, safely."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from .._config.exclude import NOTHING_MORE, Exclusions
from .._errors import EngineError
from .._model import Rejected
from .._scripts.shell import quote
from .process import QUICK_TIMEOUT
from .protocol import Backend

__all__ = [
    "EXCLUDED_NAMES",
    "EXCLUDED_SUFFIXES",
    "Parcel",
    "ParcelFeeder",
    "Rejected",
    "copy_in",
    "copy_out_wheels",
    "project_files",
    "unpack_command",
    "write_parcels",
]

# Never copied into the container: caches and environments that belong to the host.
EXCLUDED_NAMES = frozenset(
    {
        ".tox",
        ".nox",
        ".venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".manywheel",
    }
)
EXCLUDED_SUFFIXES = (".pyc",)  # files: bytecode of the host's interpreter


def project_files(root: Path, exclude: Exclusions = NOTHING_MORE) -> list[Path]:
    """Files and folders of the project to copy, minus host-only caches and ``exclude``."""
    skip = {p.resolve() for p in exclude.folders}
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = PurePosixPath(here.relative_to(root).as_posix())
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in EXCLUDED_NAMES
            and (here / d).resolve() not in skip
            and not exclude.skips(rel / d, is_dir=True)
        )
        out.extend(here / d for d in dirnames)
        out.extend(
            here / f
            for f in sorted(filenames)
            if not f.endswith(EXCLUDED_SUFFIXES) and not exclude.skips(rel / f, is_dir=False)
        )
    return out


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


@dataclass(frozen=True)
class Parcel:
    """What goes into one folder of a container: a host tree (minus exclusions) and named files."""

    dest: str  # absolute path in the container
    tree: Path | None = None
    exclude: Exclusions = NOTHING_MORE
    files: Mapping[str, bytes | Path] = field(default_factory=dict)


def unpack_command(parcels: Iterable[Parcel]) -> str:
    """Shell that extracts a stream from :func:`write_parcels` on stdin into the container."""
    dirs = " ".join(quote(p.dest) for p in parcels)
    return f"mkdir -p {dirs} && tar -xf - -C / --no-same-owner"


def write_parcels(stream: IO[bytes], parcels: Iterable[Parcel]) -> None:
    """One tar stream with every parcel under its folder (names relative to /), owned by root."""
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for parcel in parcels:
            base = parcel.dest.strip("/")
            if parcel.tree is not None:
                for path in project_files(parcel.tree, parcel.exclude):
                    tar.add(
                        path,
                        arcname=f"{base}/{path.relative_to(parcel.tree)}",
                        recursive=False,
                        filter=_root_owned,
                    )
            for name, content in parcel.files.items():
                if isinstance(content, Path):
                    tar.add(content, arcname=f"{base}/{name}", recursive=True, filter=_root_owned)
                else:
                    info = _root_owned(tarfile.TarInfo(f"{base}/{name}"))
                    info.size = len(content)
                    info.mode = 0o755
                    tar.addfile(info, io.BytesIO(content))


class ParcelFeeder(threading.Thread):
    """Writes parcels into a child's stdin in the background, then closes it.

    For a command that unpacks its input and then goes on (and prints): writing and reading in
    one thread could deadlock on full pipes. A host-side failure (an unreadable file) is kept in
    ``error``; the truncated stream makes the unpacking fail in the container too.
    """

    def __init__(self, stream: IO[bytes], parcels: Iterable[Parcel]) -> None:
        super().__init__(name="manywheel-copy-in", daemon=True)
        self.stream, self.parcels = stream, list(parcels)
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            write_parcels(self.stream, self.parcels)
        except BrokenPipeError:
            pass  # the child went away; its exit status tells
        except OSError as e:
            self.error = e
        finally:
            with contextlib.suppress(OSError):
                self.stream.close()


def copy_in(
    engine: Backend,
    container: str,
    dest: str,
    *,
    tree: Path | None = None,
    exclude: Iterable[Path] | Exclusions = (),
    files: Mapping[str, bytes | Path] | None = None,
    timeout: float | None = None,
) -> None:
    """Extract ``tree`` (a host folder, minus ``exclude``: folders, or whole exclusions) and
    ``files`` (relative name -> content) under ``dest``. ``timeout``: the client is ended if
    the copy has not ended after that many seconds (a write to an engine that stopped reading
    has no end of its own), and the copy fails."""
    left_out = exclude if isinstance(exclude, Exclusions) else Exclusions(tuple(exclude))
    parcel = Parcel(dest, tree, left_out, files or {})
    proc = engine.exec_(
        container,
        ["/bin/sh", "-c", unpack_command([parcel])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None
    timer = threading.Timer(timeout, proc.kill) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        write_parcels(proc.stdin, [parcel])
    except BrokenPipeError:
        pass
    finally:
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.stdin = None  # closed above; communicate() must not flush it again
        try:
            out, _ = proc.communicate(timeout=QUICK_TIMEOUT * 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        engine.registry.discard(proc)
    if proc.returncode != 0:
        raise EngineError(
            f"copying files into container {container} failed: {out.decode(errors='replace').strip()}"
        )


def _safe_wheel_name(name: str, suffix: str = ".whl") -> str | None:
    """The plain file name of a top-level wheel member, or None when it is anything else."""
    if name.startswith("./"):
        name = name[2:]
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        return None
    return name if name.endswith(suffix) else None


def copy_out_wheels(
    engine: Backend, container: str, src: str, dest: Path, *, suffix: str = ".whl"
) -> tuple[list[Path], list[Rejected]]:
    """Copy the regular ``*.whl`` (``suffix``) files at the top of ``src`` into ``dest``;
    reject all else.

    Nothing is ever written outside ``dest``: names with folders, ``..``, absolute paths,
    links and devices are rejected, not followed.
    """
    proc = engine.exec_(container, ["tar", "-cf", "-", "-C", src, "."], stderr=subprocess.PIPE)
    assert proc.stdout is not None
    taken: list[Path] = []
    rejected: list[Rejected] = []
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.isdir() and member.name in (".", "./"):
                    continue
                name = _safe_wheel_name(member.name, suffix)
                if name is None or not member.isfile():
                    kind = (
                        "not a regular file"
                        if not member.isfile()
                        else f"not a plain *{suffix} name"
                    )
                    rejected.append(Rejected(member.name, kind))
                    continue
                target = dest / name
                source = tar.extractfile(member)
                assert source is not None
                with open(target, "xb") as f:  # never overwrite, never follow a link
                    while chunk := source.read(1 << 20):
                        f.write(chunk)
                taken.append(target)
    except tarfile.TarError as e:
        raise EngineError(f"could not read the wheels from container {container}: {e}") from None
    finally:
        try:
            _, err = proc.communicate(timeout=QUICK_TIMEOUT * 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        engine.registry.discard(proc)
    if proc.returncode != 0:
        raise EngineError(
            f"copying wheels out of container {container} failed: {(err or b'').decode(errors='replace').strip()}"
        )
    return taken, rejected
