"""The same archive for the same files: a wheel rewritten so that only its content decides its
bytes (``reproducible``).

Members are sorted by name, the ``.dist-info`` folder last and its RECORD at the very end (as
the wheel specification recommends); every member gets the time of SOURCE_DATE_EPOCH,
permissions 0644 (0755 for an executable file and for folders), Unix as the system that made
it, no extra fields or comments, and one compression (deflate, level 6, by this Python's
zlib). RECORD is written anew from the bytes copied: one ``path,sha256=...,size`` row per
file, in archive order. Member contents are copied unchanged, in bounded pieces.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import stat
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = ["ZIP_EARLIEST", "member_order", "normalize_wheel", "zip_time"]

ZIP_EARLIEST = 315532800  # 1980-01-01T00:00:00Z: a zip archive holds no earlier time
ZIP_LATEST = 4354819198  # 2107-12-31T23:59:58Z: nor any later one
COMPRESSION = zipfile.ZIP_DEFLATED
LEVEL = 6
PIECE = 1 << 20

ZipTime = tuple[int, int, int, int, int, int]


def zip_time(epoch: int) -> ZipTime:
    """The zip date and time of ``epoch`` in UTC, kept within what a zip archive can hold."""
    t = time.gmtime(min(max(epoch, ZIP_EARLIEST), ZIP_LATEST))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _in_dist_info(name: str) -> bool:
    return name.count("/") >= 1 and name.split("/", 1)[0].endswith(".dist-info")


def _is_record(name: str) -> bool:
    return name.count("/") == 1 and _in_dist_info(name) and name.endswith("/RECORD")


def member_order(names: Iterable[str]) -> list[str]:
    """``names`` in archive order: the package's files, then .dist-info, RECORD last."""
    return sorted(names, key=lambda n: (_in_dist_info(n), _is_record(n), n))


def _mode(info: zipfile.ZipInfo) -> int:
    if info.is_dir():
        return stat.S_IFDIR | 0o755
    executable = (info.external_attr >> 16) & 0o111
    return stat.S_IFREG | (0o755 if executable else 0o644)


def _member(name: str, when: ZipTime, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, when)
    info.create_system = 3  # Unix, whatever made the original
    info.external_attr = mode << 16 | (0x10 if stat.S_ISDIR(mode) else 0)
    if not stat.S_ISDIR(mode):
        info.compress_type = COMPRESSION  # at zlib's default level, 6
    return info


def _hash(digest: hashlib._Hash) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _record(rows: list[tuple[str, str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=",", quotechar='"', lineterminator="\n")
    writer.writerows(rows)
    return text.getvalue().encode()


def _check_names(infos: list[zipfile.ZipInfo]) -> str:
    """The RECORD's name; a ValueError for an archive that is not a wheel's."""
    twice = [n for n, count in Counter(i.filename for i in infos).items() if count > 1]
    if twice:
        raise ValueError(f"{twice[0]} is in the archive twice")
    records = [i.filename for i in infos if _is_record(i.filename)]
    if len(records) != 1:
        raise ValueError(f"expected one .dist-info/RECORD, found {len(records)}")
    return records[0]


def normalize_wheel(path: Path, epoch: int) -> None:
    """Rewrite the wheel at ``path`` in place (atomically) as the module's docstring says.

    Raises ``zipfile.BadZipFile`` or ``ValueError`` for an archive that is not a wheel (not
    a zip, a member twice, no RECORD or several, a member whose bytes fail their CRC) and
    ``OSError``; the file is then left as it was.
    """
    when = zip_time(epoch)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(path) as src:
            _rewrite(src, raw, when)
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rewrite(src: zipfile.ZipFile, raw: IO[bytes], when: ZipTime) -> None:
    infos = {i.filename: i for i in src.infolist()}
    record = _check_names(src.infolist())
    rows: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(raw, "w") as out:
        for name in member_order(infos):
            info = infos[name]
            member = _member(name, when, _mode(info))
            if info.is_dir():
                out.writestr(member, b"")
            elif name == record:
                rows.append((name, "", ""))
                out.writestr(member, _record(rows))
            else:
                member.file_size = info.file_size  # decides zip64 as for the original
                digest, size = hashlib.sha256(), 0
                with src.open(info) as reader, out.open(member, "w") as writer:
                    while piece := reader.read(PIECE):
                        digest.update(piece)
                        size += len(piece)
                        writer.write(piece)
                rows.append((name, _hash(digest), str(size)))
