"""The tar stream that carries the project and the scripts into a container in one exec."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from manywheel._config.exclude import Exclusions
from manywheel._engines.transfer import Parcel, ParcelFeeder, unpack_command, write_parcels


def parcels(tmp_path: Path) -> list[Parcel]:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "mod.c").write_text("int x;\n")
    (project / "dist").mkdir()
    (project / "dist" / "old.whl").write_text("not copied")
    (project / ".venv").mkdir()
    (project / ".git" / "objects").mkdir(parents=True)  # VCS metadata: left out by default
    (project / "data").mkdir()
    (project / "data" / "big.h5").write_text("excluded by a glob")
    cached = tmp_path / "venv.tar"
    cached.write_bytes(b"tar")
    return [
        Parcel("/project", project, Exclusions((project / "dist",), ("*.h5",))),
        Parcel("/manywheel/in", files={"build.sh": b"echo hi\n", "venv.tar": cached}),
    ]


def test_one_stream_holds_every_parcel_under_its_folder(tmp_path: Path) -> None:
    buf = io.BytesIO()
    write_parcels(buf, parcels(tmp_path))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == [
        "manywheel/in/build.sh",
        "manywheel/in/venv.tar",
        "project/data",
        "project/src",
        "project/src/mod.c",
    ]
    assert all(m.uid == 0 and m.uname == "root" for m in members.values())
    assert members["manywheel/in/build.sh"].mode == 0o755


def test_the_unpack_command_extracts_it_relative_to_root(tmp_path: Path) -> None:
    root = tmp_path / "root"  # stands for the container's /: the folders are absolute paths
    moved = [Parcel(f"{root}{p.dest}", p.tree, p.exclude, p.files) for p in parcels(tmp_path)]
    proc = subprocess.Popen(["/bin/sh", "-c", unpack_command(moved)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, moved)
    feeder.start()
    feeder.join()
    assert proc.wait() == 0
    assert feeder.error is None
    assert (root / "project" / "src" / "mod.c").read_text() == "int x;\n"
    assert (root / "manywheel" / "in" / "build.sh").read_bytes() == b"echo hi\n"
    assert not (root / "project" / "dist").exists()


def test_an_unreadable_file_is_reported_not_swallowed(tmp_path: Path) -> None:
    gone = Parcel("/manywheel/in", files={"venv.tar": tmp_path / "missing.tar"})
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, [gone])
    feeder.start()
    feeder.join()
    proc.wait()
    assert isinstance(feeder.error, FileNotFoundError)
