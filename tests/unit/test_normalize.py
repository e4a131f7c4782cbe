"""Wheel archives rewritten so that only their content decides their bytes (``_normalize``)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from manywheel._normalize import ZIP_EARLIEST, member_order, normalize_wheel, zip_time

EPOCH = 1700000000  # 2023-11-14T22:13:20Z
INFO = "demo-1.0.dist-info"
FILES = {
    "demo/__init__.py": b"from ._core import answer\n",
    "demo/_core.py": b"def answer():\n    return 42\n",
    "demo/tool.sh": b"#!/bin/sh\necho hi\n",
    f"{INFO}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    f"{INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{INFO}/top_level.txt": b"demo\n",
}


def _record_row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(
    path: Path,
    order: list[str] | None = None,
    when: tuple[int, int, int, int, int, int] = (2024, 5, 6, 7, 8, 10),
    *,
    mode: int = 0o664,
    compression: int = zipfile.ZIP_DEFLATED,
    dirs: bool = False,
) -> Path:
    """A wheel as a build backend might write it: its own order, times, modes, compression;
    RECORD (in the backend's own order) in the middle of the .dist-info."""
    names = order or list(FILES)
    record = "\n".join(_record_row(n, FILES[n]) for n in reversed(names)) + f"\n{INFO}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        if dirs:
            folder = zipfile.ZipInfo("demo/", when)
            folder.external_attr = (stat.S_IFDIR | 0o775) << 16 | 0x10
            zf.writestr(folder, b"")
        for name in names:
            info = zipfile.ZipInfo(name, when)
            executable = 0o111 if name.endswith(".sh") else 0
            info.external_attr = (stat.S_IFREG | mode | executable) << 16
            info.compress_type = compression
            zf.writestr(info, FILES[name])
            if name.endswith("METADATA"):
                zf.writestr(zipfile.ZipInfo(f"{INFO}/RECORD", when), record)
    return path


def test_zip_time_is_utc_within_what_a_zip_archive_holds() -> None:
    assert zip_time(EPOCH) == (2023, 11, 14, 22, 13, 20)
    assert zip_time(0) == zip_time(ZIP_EARLIEST) == (1980, 1, 1, 0, 0, 0)
    assert zip_time(10**11) == (2107, 12, 31, 23, 59, 58)


def test_member_order_puts_dist_info_last_and_record_at_the_very_end() -> None:
    names = [f"{INFO}/RECORD", f"{INFO}/WHEEL", "demo/z.py", "demo-1.0.data/scripts/x", "a.py"]
    assert member_order(names) == [
        "a.py",
        "demo-1.0.data/scripts/x",
        "demo/z.py",
        f"{INFO}/WHEEL",
        f"{INFO}/RECORD",
    ]


def test_the_same_files_give_the_same_bytes(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a.whl")
    b = make_wheel(
        tmp_path / "b.whl",
        order=list(reversed(FILES)),
        when=(2031, 1, 2, 3, 4, 6),
        mode=0o600,
        compression=zipfile.ZIP_STORED,
    )
    assert a.read_bytes() != b.read_bytes()
    normalize_wheel(a, EPOCH)
    normalize_wheel(b, EPOCH)
    assert a.read_bytes() == b.read_bytes()
    again = a.read_bytes()
    normalize_wheel(a, EPOCH)  # a normalized wheel is left as it is
    assert a.read_bytes() == again


def test_entries_are_sorted_dated_and_permissions_normalized(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", dirs=True)
    normalize_wheel(wheel, EPOCH)
    with zipfile.ZipFile(wheel) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == member_order(i.filename for i in infos)
        assert infos[-1].filename == f"{INFO}/RECORD"
        modes = {i.filename: stat.filemode(i.external_attr >> 16) for i in infos}
        for info in infos:
            assert info.date_time == (2023, 11, 14, 22, 13, 20)
            assert info.create_system == 3
            assert info.extra == b""
            assert info.compress_type == (
                zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            )
            if info.filename in FILES:
                assert zf.read(info) == FILES[info.filename]  # the content is unchanged
    assert modes["demo/"] == "drwxr-xr-x"
    assert modes["demo/tool.sh"] == "-rwxr-xr-x"
    assert modes["demo/__init__.py"] == modes[f"{INFO}/RECORD"] == "-rw-r--r--"


def test_record_is_rewritten_in_archive_order_and_stays_valid(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", dirs=True)
    normalize_wheel(wheel, EPOCH)
    with zipfile.ZipFile(wheel) as zf:
        rows = list(csv.reader(io.StringIO(zf.read(f"{INFO}/RECORD").decode())))
        files = [i.filename for i in zf.infolist() if not i.is_dir()]
        assert [r[0] for r in rows] == files
        assert rows[-1] == [f"{INFO}/RECORD", "", ""]
        for name, digest, size in rows[:-1]:
            assert f"{name},{digest},{size}" == _record_row(name, zf.read(name))


def test_pip_installs_a_normalized_wheel_and_its_record_checks(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", dirs=True)
    normalize_wheel(wheel, EPOCH)
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
         str(target), str(wheel)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    # pip checked each file against RECORD as it installed it; the installed copy agrees too
    record = (target / INFO / "RECORD").read_text()
    for line in record.splitlines():
        name, digest, _ = line.split(",")
        if digest:
            assert line == _record_row(name, (target / name).read_bytes())
    assert os.access(target / "demo" / "tool.sh", os.X_OK)
    r = subprocess.run(
        [sys.executable, "-c", "import demo; print(demo.answer())"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert r.stdout.strip() == "42", r.stderr


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        ("twice", "demo/__init__.py is in the archive twice"),
        ("no-record", "expected one .dist-info/RECORD, found 0"),
        ("not-a-zip", "File is not a zip file"),
    ],
)
def test_an_archive_that_is_no_wheel_is_refused_and_left_alone(
    tmp_path: Path, damage: str, error: str
) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    if damage == "not-a-zip":
        wheel.write_bytes(b"no zip here")
    else:
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("demo/__init__.py", "")
            if damage == "twice":
                with pytest.warns(UserWarning, match="Duplicate name"):
                    zf.writestr("demo/__init__.py", "again")
                zf.writestr(f"{INFO}/RECORD", "")
    before = wheel.read_bytes()
    with pytest.raises((ValueError, zipfile.BadZipFile), match=error):
        normalize_wheel(wheel, EPOCH)
    assert wheel.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [wheel.name]  # no temporary file left


def test_a_member_that_fails_its_crc_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", compression=zipfile.ZIP_STORED)
    data = bytearray(wheel.read_bytes())
    at = data.index(b"return 42")
    data[at : at + 9] = b"return 43"
    wheel.write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        normalize_wheel(wheel, EPOCH)
    assert wheel.read_bytes() == bytes(data)


def test_the_wheel_keeps_its_file_permissions(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    wheel.chmod(0o640)
    normalize_wheel(wheel, EPOCH)
    assert stat.S_IMODE(wheel.stat().st_mode) == 0o640
