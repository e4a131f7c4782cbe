"""Whether a foreign architecture can run here (``_engines/emulation``), on a fake
binfmt_misc folder; what an emulated build's log says of QEMU's CPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._engines.emulation import EMULATION_TIP, emulation_problem
from manywheel._model import Target
from manywheel._scripts.build import build_script

ENTRY = """\
{state}
interpreter /usr/bin/qemu-{qemu}-static
{flags}offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def binfmt(
    tmp_path: Path,
    *,
    mounted: bool = True,
    qemu: str | None = "aarch64",
    state: str = "enabled",
    flags: str | None = "OCF",
) -> Path:
    """A binfmt_misc folder: ``register`` if mounted, and one entry qemu-``qemu``."""
    folder = tmp_path / "binfmt_misc"
    folder.mkdir(exist_ok=True)
    if mounted:
        (folder / "register").write_text("")
        (folder / "status").write_text("enabled\n")
    if qemu is not None:
        text = ENTRY.format(
            state=state, qemu=qemu, flags="" if flags is None else f"flags: {flags}\n"
        )
        (folder / f"qemu-{qemu}").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("arch", "machine"),
    [("x86_64", "x86_64"), ("i686", "x86_64"), ("aarch64", "aarch64"), ("armv7l", "aarch64")],
)
def test_a_native_architecture_needs_nothing(tmp_path: Path, arch: str, machine: str) -> None:
    missing = tmp_path / "no-such-folder"
    assert emulation_problem(arch, machine=machine, binfmt_dir=missing) is None


def test_binfmt_misc_not_mounted(tmp_path: Path) -> None:
    folder = binfmt(tmp_path, mounted=False)  # an entry file, but no register: not mounted
    assert emulation_problem("aarch64", machine="x86_64", binfmt_dir=folder) == (
        "aarch64 needs emulation on this x86_64 machine, and binfmt_misc is not mounted"
    )
    missing = tmp_path / "absent"
    assert "binfmt_misc is not mounted" in str(
        emulation_problem("aarch64", machine="x86_64", binfmt_dir=missing)
    )


def test_no_qemu_registered_for_it(tmp_path: Path) -> None:
    folder = binfmt(tmp_path, qemu="riscv64")  # another one is registered
    assert emulation_problem("aarch64", machine="x86_64", binfmt_dir=folder) == (
        "aarch64 needs emulation on this x86_64 machine, and no QEMU is registered for it"
    )


@pytest.mark.parametrize("text", ["disabled\n", ""])
def test_a_disabled_entry(tmp_path: Path, text: str) -> None:
    folder = binfmt(tmp_path)
    (folder / "qemu-aarch64").write_text(text)
    assert emulation_problem("aarch64", machine="x86_64", binfmt_dir=folder) == (
        f"aarch64 needs emulation: its QEMU entry {folder / 'qemu-aarch64'} is disabled"
    )


@pytest.mark.parametrize("flags", ["OC", "", None])
def test_an_entry_without_the_fix_binary_flag(tmp_path: Path, flags: str | None) -> None:
    folder = binfmt(tmp_path, flags=flags)
    assert emulation_problem("aarch64", machine="x86_64", binfmt_dir=folder) == (
        f"aarch64 needs emulation: its QEMU entry {folder / 'qemu-aarch64'} lacks the "
        "fix-binary (F) flag, so containers cannot use it"
    )


@pytest.mark.parametrize("flags", ["OCF", "F", "POCF"])
def test_an_enabled_entry_with_the_f_flag_is_enough(tmp_path: Path, flags: str) -> None:
    folder = binfmt(tmp_path, flags=flags)
    assert emulation_problem("aarch64", machine="x86_64", binfmt_dir=folder) is None


@pytest.mark.parametrize(
    ("arch", "machine", "qemu"),
    [
        ("armv7l", "x86_64", "arm"),
        ("i686", "aarch64", "i386"),
        ("x86_64", "aarch64", "x86_64"),
        ("ppc64le", "x86_64", "ppc64le"),
        ("s390x", "aarch64", "s390x"),
        ("riscv64", "x86_64", "riscv64"),
    ],
)
def test_each_architecture_looks_for_its_own_entry(
    tmp_path: Path, arch: str, machine: str, qemu: str
) -> None:
    folder = binfmt(tmp_path, qemu=qemu)
    assert emulation_problem(arch, machine=machine, binfmt_dir=folder) is None
    (folder / f"qemu-{qemu}").unlink()
    assert "no QEMU is registered" in str(
        emulation_problem(arch, machine=machine, binfmt_dir=folder)
    )


def test_the_tip_says_how_to_register_qemu_with_the_f_flag() -> None:
    assert "qemu-user-static" in EMULATION_TIP
    assert "mount -t binfmt_misc" in EMULATION_TIP
    assert "tonistiigi/binfmt --install all" in EMULATION_TIP


def test_an_emulated_build_says_which_cpu_qemu_emulates(tmp_path: Path) -> None:
    arm = Target(
        "cp313-manylinux_aarch64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python",
        platform="manylinux_aarch64",
    )  # fmt: skip
    emulated, _ = build_script(Options(tmp_path), arm, "::m::", 2, emulated_image="img")
    native, _ = build_script(Options(tmp_path), arm, "::m::", 2)
    lines = [x for x in emulated.splitlines() if "QEMU emulates" in x]
    assert len(lines) == 2
    assert "QEMU" not in native
    for value, said in (
        ("max,pauth-impdef=on", "QEMU_CPU=max,pauth-impdef=on"),
        ("", "its default CPU (no QEMU_CPU)"),
    ):
        r = subprocess.run(
            ["sh", "-euc", "\n".join(lines)], env={"QEMU_CPU": value},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert r.returncode == 0
        assert r.stdout == f"manywheel: QEMU emulates {said}\n"
