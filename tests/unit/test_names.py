"""File names that are not valid UTF-8 are files like any other: hashed and copied as bytes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from manywheel import Options
from manywheel._engines.transfer import Parcel, ParcelFeeder, unpack_command
from manywheel._manifest import source_digest

NAME = b"caf\xe9.txt"  # Latin-1: not valid UTF-8


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "mod.c").write_text("int x;\n")
    raw = os.fsencode(root)
    os.mkdir(raw + b"/dir-\xff")
    for path in (raw + b"/" + NAME, raw + b"/dir-\xff/" + NAME):
        with open(path, "wb") as f:
            f.write(b"latin-1\n")
    os.symlink(NAME, raw + b"/link-\xfe")
    return root


def test_source_digest_hashes_non_utf8_names(tmp_path: Path) -> None:
    root = _project(tmp_path)
    opts = Options(root)
    first = source_digest(opts)
    assert source_digest(opts) == first
    with open(os.fsencode(root) + b"/" + NAME, "wb") as f:
        f.write(b"changed\n")
    assert source_digest(opts) != first


def test_source_digest_of_utf8_names_is_unchanged(tmp_path: Path) -> None:
    """Hashing names as bytes gives the same digests as before for every UTF-8 name."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "café.txt").write_text("x")
    opts = Options(root)
    assert source_digest(opts) == (
        "44f484ed651460d4215633937d0459e937a0a11c2d4b888748e2c36f0b048a0a"
    )


def test_non_utf8_names_reach_the_container_byte_for_byte(tmp_path: Path) -> None:
    root = _project(tmp_path)
    dest = tmp_path / "root"  # stands for the container's /
    parcels = [Parcel(f"{dest}/project", root)]
    proc = subprocess.Popen(
        ["/bin/sh", "-c", unpack_command(parcels)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, parcels)
    feeder.start()
    feeder.join()
    assert proc.wait() == 0
    assert feeder.error is None
    copied = os.fsencode(dest / "project")
    assert sorted(os.listdir(copied)) == sorted([NAME, b"dir-\xff", b"link-\xfe", b"src"])
    with open(copied + b"/dir-\xff/" + NAME, "rb") as f:
        assert f.read() == b"latin-1\n"
    assert os.readlink(copied + b"/link-\xfe") == NAME
