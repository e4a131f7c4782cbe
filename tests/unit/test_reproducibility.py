"""How two wheels differ (``_reproducibility``): the first member, ELF sections, text lines."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from manywheel._reproducibility import Difference, compare_wheels, elf_sections

WHEEL = "demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"
SO = "demo/_core.cpython-313-x86_64-linux-gnu.so"
WHEN = (2020, 1, 2, 3, 4, 6)


def make_elf(sections: dict[str, bytes | int], *, bits: int = 64, little: bool = True) -> bytes:
    """A minimal ELF file with these sections (an int: a .bss-like section of that size)."""
    e = "<" if little else ">"
    names = [*sections, ".shstrtab"]
    strtab = b"\0"
    name_at = {}
    for name in names:
        name_at[name] = len(strtab)
        strtab += name.encode() + b"\0"
    header_size = 64 if bits == 64 else 52
    data = bytearray(header_size)
    rows = [(0, 0, 0, 0)]  # name, type, offset, size: the null section first
    for name, content in [*sections.items(), (".shstrtab", strtab)]:
        if isinstance(content, int):
            rows.append((name_at[name], 8, len(data), content))  # SHT_NOBITS: no bytes
        else:
            rows.append((name_at[name], 3 if name == ".shstrtab" else 1, len(data), len(content)))
            data += content
    shoff = len(data)
    entry = e + ("IIQQQQIIQQ" if bits == 64 else "IIIIIIIIII")
    for name_off, kind, offset, size in rows:
        data += struct.pack(entry, name_off, kind, 0, 0, offset, size, 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1]) + bytes(9)
    if bits == 64:
        rest = struct.pack(e + "HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0,
                           struct.calcsize(entry), len(rows), len(rows) - 1)  # fmt: skip
    else:
        rest = struct.pack(e + "HHIIIIIHHHHHH", 3, 20, 1, 0, 0, shoff, 0, 52, 0, 0,
                           struct.calcsize(entry), len(rows), len(rows) - 1)  # fmt: skip
    data[:header_size] = ident + rest
    return bytes(data)


def make_wheel(
    path: Path, members: dict[str, bytes], when: tuple[int, ...] = WHEN, level: int | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, when)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content, compresslevel=level)
    return path


def members(**changes: bytes) -> dict[str, bytes]:
    base = {
        "demo/__init__.py": b"from ._core import built\n",
        SO: make_elf(
            {".text": b"\x90" * 32, ".rodata": b"built Jan  1 1980 00:00:00\0", ".bss": 64}
        ),
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/RECORD": b"",
    }
    base.update({k.replace("__", "/"): v for k, v in changes.items()})
    return base


def compare(
    tmp_path: Path, first: dict[str, bytes], second: dict[str, bytes], **kw: object
) -> Difference | None:
    a = make_wheel(tmp_path / "a" / WHEEL, first)
    b = make_wheel(tmp_path / "b" / WHEEL, second, **kw)  # type: ignore[arg-type]
    return compare_wheels(a, b)


@pytest.mark.parametrize(("bits", "little"), [(64, True), (32, False)])
def test_elf_sections_reads_the_section_table(bits: int, little: bool) -> None:
    data = make_elf(
        {".text": b"\x90\x90", ".rodata": b"hello\0", ".bss": 4096}, bits=bits, little=little
    )
    sections = elf_sections(data)
    assert sections is not None
    assert list(sections) == ["[0]", ".text", ".rodata", ".bss", ".shstrtab"]
    assert sections[".rodata"] == b"hello\0"
    assert sections[".bss"] == b"4096 bytes"  # it takes no room in the file: its size counts


def test_elf_sections_of_what_is_no_elf_file_is_none() -> None:
    assert elf_sections(b"#!/bin/sh\necho not elf\n" * 4) is None
    assert elf_sections(make_elf({".text": b"x"})[:70]) is None  # the table is cut off


def test_the_same_bytes_are_no_difference(tmp_path: Path) -> None:
    assert compare(tmp_path, members(), members()) is None


def test_the_time_of_the_build_in_a_library_is_named_with_its_section(tmp_path: Path) -> None:
    later = make_elf(
        {".text": b"\x90" * 32, ".rodata": b"built Nov 30 2026 16:11:29\0", ".bss": 64}
    )
    earlier = make_elf(
        {".text": b"\x90" * 32, ".rodata": b"built Nov 30 2026 16:11:25\0", ".bss": 64}
    )
    found = compare(tmp_path, members(**{SO: earlier}), members(**{SO: later}))
    assert found is not None
    assert found.member == SO
    assert found.what.startswith("the content differs (")
    summary = found.summary()
    assert "ELF sections that differ: .rodata" in summary
    assert ".text" not in summary
    assert "strings only in the first build: 'built Nov 30 2026 16:11:25'" in summary
    assert "only in the second: 'built Nov 30 2026 16:11:29'" in summary
    assert "looks like the time of the build (__DATE__, __TIME__)" in summary


def test_a_build_folder_in_debug_info_gets_its_hint(tmp_path: Path) -> None:
    first = make_elf({".debug_str": b"/project/src\0"})
    second = make_elf({".debug_str": b"/project-check/src\0", ".debug_extra": b"x"})
    found = compare(tmp_path, members(**{SO: first}), members(**{SO: second}))
    assert found is not None
    summary = found.summary()
    assert "ELF sections that differ: .debug_str" in summary
    assert "sections in one build only: .debug_extra" in summary
    assert "looks like a folder of the build" in summary
    assert "time of the build" not in summary


def test_a_text_member_names_its_first_differing_line(tmp_path: Path) -> None:
    meta = "demo-1.0.dist-info/METADATA"
    changed = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0.post1\n"
    found = compare(tmp_path, members(), {**members(), meta: changed})
    assert found == Difference(
        meta,
        "the content differs (46 and 52 bytes, text)",
        ("line 3: 'Version: 1.0' in the first build, 'Version: 1.0.post1' in the second",),
    )


def test_other_bytes_name_the_first_differing_byte(tmp_path: Path) -> None:
    blob = "demo/data.bin"
    found = compare(
        tmp_path, {**members(), blob: b"\x00\xff\x01"}, {**members(), blob: b"\x00\xff\x02"}
    )
    assert found is not None
    assert (found.member, found.what) == (
        blob,
        "the content differs (3 and 3 bytes), first at byte 2",
    )


def test_a_member_in_one_wheel_only(tmp_path: Path) -> None:
    found = compare(tmp_path, members(), {**members(), "demo/extra.py": b""})
    assert found == Difference("demo/extra.py", "is only in the second build's wheel")


def test_the_same_files_in_another_order(tmp_path: Path) -> None:
    first = members()
    second = dict(reversed(first.items()))
    found = compare(tmp_path, first, second)
    assert found is not None
    assert found.member == "demo/__init__.py"
    assert "same files, other order" in found.what


def test_the_same_files_with_other_times(tmp_path: Path) -> None:
    found = compare(tmp_path, members(), members(), when=(2021, 1, 2, 3, 4, 6))
    assert found is not None
    assert found.member == "demo/__init__.py"
    assert found.what == (
        "same content, other entry: time (2020, 1, 2, 3, 4, 6) and (2021, 1, 2, 3, 4, 6)"
    )


def test_the_same_entries_compressed_otherwise(tmp_path: Path) -> None:
    big = {**members(), "demo/big.txt": b"manywheel " * 5000}
    found = compare(tmp_path, big, big, level=1)
    assert found == Difference(None, "same members and entries; the compressed bytes differ")


def test_wheels_with_other_names(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / WHEEL, members())
    b = make_wheel(tmp_path / WHEEL.replace("1.0", "1.1"), members(**{"demo/x": b"1"}))
    found = compare_wheels(a, b)
    assert found is not None
    assert found.what.startswith("the wheels' names differ")
