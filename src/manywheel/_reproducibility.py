"""``check-reproducible``: build a target twice and explain how its two wheels differ.

The second build runs in a fresh container with another name, its work and project folders
renamed (``/manywheel-check``, ``/project-check``) and so its temporary folder too, without the
cached venv and without tests. Its wheel is compared with the first's (both normalized when
``reproducible`` is on); a difference fails the target, names the first archive member that
differs and says how: for an ELF file, the sections whose bytes differ and printable strings
found in only one of them (read here, in Python: no tool of the image is needed); for text,
the first line that differs; else the first byte. Both wheels are kept beside the logs.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import struct
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from ._logs import TargetLog
from ._model import TargetResult
from ._pipeline import TargetJob, run_target

__all__ = ["CHECK_SUFFIX", "Difference", "check_target", "compare_wheels", "elf_sections"]

CHECK_SUFFIX = "-check"
_SHOWN = 4  # sections and strings named at most, per list
_PIECE = 1 << 20
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
_BUILD_TIME = re.compile(
    r"\b\d\d:\d\d:\d\d\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{4}\b"
)
_BUILD_PATH = re.compile(r"/tmp|build-env|\.mesonpy-|/manywheel|/project")


@dataclass(frozen=True)
class Difference:
    """How two wheels differ: the first member that does (None: the archives' own bytes) and
    what about it, in a line; ``details`` add what a reader needs to find the cause."""

    member: str | None
    what: str
    details: tuple[str, ...] = ()

    def summary(self) -> str:
        where = f"{self.member}: " if self.member is not None else ""
        return where + self.what + "".join(f"; {d}" for d in self.details)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


# -- ELF: the section table, enough to say which sections differ -------------------------


def elf_sections(data: bytes) -> dict[str, bytes] | None:
    """An ELF file's sections by name, in file order: their bytes (a section that takes no
    room in the file, like .bss, by its size); None when ``data`` is not an ELF file."""
    if data[:4] != b"\x7fELF" or len(data) < 64 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    end = "<" if data[5] == 1 else ">"
    try:
        if data[4] == 2:  # 64-bit
            (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
            header = end + "IIQQQQ"  # name, type, flags, addr, offset, size
        else:
            (shoff,) = struct.unpack_from(end + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
            header = end + "IIIIII"
        table = [struct.unpack_from(header, data, shoff + i * shentsize) for i in range(shnum)]
        names_at = table[shstrndx][4]
    except (struct.error, IndexError):
        return None
    sections: dict[str, bytes] = {}
    for i, (name_at, kind, _, _, offset, size) in enumerate(table):
        start = names_at + name_at
        name = data[start : data.find(b"\0", start)].decode(errors="replace") or f"[{i}]"
        if name in sections:
            name = f"{name}[{i}]"
        sections[name] = f"{size} bytes".encode() if kind == 8 else data[offset : offset + size]
    return sections


def _strings(data: bytes) -> list[str]:
    return list(dict.fromkeys(m.group().decode() for m in _PRINTABLE.finditer(data)))


def _only_in(a: list[str], b: list[str]) -> list[str]:
    others = set(b)
    return [s for s in a if s not in others]


def _elf_difference(first: dict[str, bytes], second: dict[str, bytes]) -> tuple[str, ...]:
    differ = [n for n in first if n in second and first[n] != second[n]]
    details = []
    if differ:
        details.append(f"ELF sections that differ: {_listed(differ)}")
    missing = [n for n in first if n not in second] + [n for n in second if n not in first]
    if missing:
        details.append(f"sections in one build only: {_listed(missing)}")
    if not differ and not missing:
        details.append("every ELF section is the same: the headers or padding differ")
    looked = [n for n in differ if n != ".note.gnu.build-id"]  # follows from the others
    strings_a = [s for n in looked for s in _strings(first[n])]
    strings_b = [s for n in looked for s in _strings(second[n])]
    only_a, only_b = _only_in(strings_a, strings_b), _only_in(strings_b, strings_a)
    if only_a or only_b:
        details.append(
            f"strings only in the first build: {_quoted(only_a)}; "
            f"only in the second: {_quoted(only_b)}"
        )
    details += _hints(only_a + only_b)
    return tuple(details)


def _quoted(strings: list[str]) -> str:
    return _listed([repr(s[:80]) for s in strings]) if strings else "none"


def _hints(strings: list[str]) -> list[str]:
    hints = []
    if any(_BUILD_TIME.search(s) for s in strings):
        hints.append(
            "this looks like the time of the build (__DATE__, __TIME__): GCC 7 and later take "
            "it from SOURCE_DATE_EPOCH, which manywheel sets unless reproducible = false; with "
            "a compiler that does not, leave them out of the code"
        )
    if any(_BUILD_PATH.search(s) for s in strings):
        hints.append(
            "this looks like a folder of the build, recorded by debug info or __FILE__: "
            "unless reproducible = false, manywheel maps the project and work folders away "
            "for compilers that read CPPFLAGS (or CFLAGS, CXXFLAGS, FFLAGS, FCFLAGS where "
            "set: CMake reads only those); a folder with a random name (.mesonpy-*, "
            "pip-build-env-*, tmp*) needs a fixed one (e.g. meson-python's build-dir)"
        )
    return hints


# -- members ----------------------------------------------------------------------------


def _text_difference(first: bytes, second: bytes) -> tuple[str, ...] | None:
    try:
        lines_a = first.decode().splitlines()
        lines_b = second.decode().splitlines()
    except UnicodeDecodeError:
        return None
    for number, (a, b) in enumerate(zip(lines_a, lines_b, strict=False), start=1):
        if a != b:
            return (f"line {number}: {a[:120]!r} in the first build, {b[:120]!r} in the second",)
    shorter = "first" if len(lines_a) < len(lines_b) else "second"
    return (f"the {shorter} build's ends after line {min(len(lines_a), len(lines_b))}",)


def _content_difference(name: str, first: bytes, second: bytes) -> Difference:
    sizes = f"{len(first)} and {len(second)} bytes"
    elf_a, elf_b = elf_sections(first), elf_sections(second)
    if elf_a is not None and elf_b is not None:
        return Difference(
            name, f"the content differs ({sizes}, ELF)", _elf_difference(elf_a, elf_b)
        )
    text = _text_difference(first, second)
    if text is not None:
        return Difference(name, f"the content differs ({sizes}, text)", text)
    at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    at = min(len(first), len(second)) if at is None else at
    return Difference(name, f"the content differs ({sizes}), first at byte {at}")


def _entry(info: zipfile.ZipInfo) -> dict[str, object]:
    return {
        "time": info.date_time,
        "permissions": oct(info.external_attr >> 16),
        "compression": info.compress_type,
        "extra field": info.extra,
        "comment": info.comment,
    }


def _same_member(
    za: zipfile.ZipFile, a: zipfile.ZipInfo, zb: zipfile.ZipFile, b: zipfile.ZipInfo
) -> bool:
    if a.CRC != b.CRC or a.file_size != b.file_size:
        return False
    with za.open(a) as fa, zb.open(b) as fb:
        while True:
            piece = fa.read(_PIECE)
            if piece != fb.read(_PIECE):
                return False
            if not piece:
                return True


def compare_wheels(first: Path, second: Path) -> Difference | None:
    """None when the two files are byte for byte the same; else the first difference: the
    wheels' names, a member in one only, a member's content, the order of members, a
    member's entry (time, permissions, compression), or the archives' own bytes."""
    if filecmp.cmp(first, second, shallow=False):
        return None
    if first.name != second.name:
        return Difference(None, f"the wheels' names differ: {first.name} and {second.name}")
    with zipfile.ZipFile(first) as za, zipfile.ZipFile(second) as zb:
        infos_a, infos_b = za.infolist(), zb.infolist()
        names_b = {i.filename for i in infos_b}
        names_a = {i.filename for i in infos_a}
        for info in infos_a:
            if info.filename not in names_b:
                return Difference(info.filename, "is only in the first build's wheel")
        for info in infos_b:
            if info.filename not in names_a:
                return Difference(info.filename, "is only in the second build's wheel")
        entries_b = {i.filename: i for i in infos_b}
        for info in infos_a:
            other = entries_b[info.filename]
            if not _same_member(za, info, zb, other):
                return _content_difference(info.filename, za.read(info), zb.read(other))
        for info_a, info_b in zip(infos_a, infos_b, strict=True):
            if info_a.filename != info_b.filename:
                return Difference(
                    info_a.filename,
                    f"same files, other order: the second build's wheel has {info_b.filename} here",
                )
            entry_a, entry_b = _entry(info_a), _entry(info_b)
            changed = [k for k in entry_a if entry_a[k] != entry_b[k]]
            if changed:
                shown = "; ".join(f"{k} {entry_a[k]} and {entry_b[k]}" for k in changed)
                return Difference(info_a.filename, f"same content, other entry: {shown}")
        if za.comment != zb.comment:
            return Difference(None, "same members, other archive comment")
    return Difference(None, "same members and entries; the compressed bytes differ")


# -- the check --------------------------------------------------------------------------


def _keep(result: TargetResult, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy2(result.wheels[0], where / result.wheels[0].name)
    return where


def check_target(job: TargetJob) -> TargetResult:
    """Build ``job``'s target, then again as the module's docstring says, and compare;
    the first build's result, failed when the second fails or its wheel differs."""
    first = run_target(job)
    if first.status != "built" or job.cancelled.is_set():
        return first
    ident = job.target.identifier
    job.step("check", "building a second time to compare the wheels (check-reproducible)")
    again = replace(
        job,
        options=replace(job.options, test_command=""),
        container_name=job.container_name + CHECK_SUFFIX,
        staging=job.staging / "check",
        log_path=job.log_path.with_name(f"{ident}{CHECK_SUFFIX}.log"),
        venv_cache=None,
        path_suffix=CHECK_SUFFIX,
    )
    second = run_target(again)
    first.seconds = round(first.seconds + second.seconds, 2)
    first.steps["check"] = second.seconds
    with TargetLog(job.log_path, job.options.secret_values()) as log:
        if second.status != "built":
            first.status = "cancelled" if second.status == "cancelled" else "failed"
            first.error = (
                f"the second build for check-reproducible failed: {second.error} "
                f"(log: {second.log})"
            )
        else:
            difference = compare_wheels(first.wheels[0], second.wheels[0])
            if difference is None:
                log.write(
                    f"manywheel: check-reproducible: the second build ({second.log}) made the "
                    f"same wheel, byte for byte"
                )
                return first
            kept = job.log_path.parent / "check" / ident
            _keep(first, kept / "first")
            _keep(second, kept / "second")
            first.status = "failed"
            first.error = (
                f"not reproducible: {difference.summary()} (both wheels are in {kept}; "
                f"second build's log: {second.log})"
            )
            first.wheels = []
        first.tail.append(log.write(f"manywheel: {first.error}"))
    return first
