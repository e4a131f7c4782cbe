"""Architecture names, the groups `archs` takes, and what runs without emulation (``_arch``)."""

from __future__ import annotations

import platform

import pytest

from manywheel._arch import (
    ARCHS,
    arch_info,
    arch_of_platform,
    expand_archs,
    native_arch,
    runs_natively,
)

ALL = ("x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l", "riscv64")


@pytest.mark.parametrize(
    ("words", "machine", "archs"),
    [
        (("native",), "x86_64", ("x86_64",)),
        (("auto",), "x86_64", ("x86_64",)),
        (("auto64",), "x86_64", ("x86_64",)),
        (("auto32",), "x86_64", ("i686",)),
        (("native",), "aarch64", ("aarch64",)),
        (("auto",), "aarch64", ("aarch64",)),
        (("auto64",), "aarch64", ("aarch64",)),
        (("auto32",), "aarch64", ("armv7l",)),
        (("all",), "x86_64", ALL),
        (("all",), "aarch64", ALL),
        # A 32-bit machine: auto32 is itself, auto64 nothing.
        (("auto32",), "i686", ("i686",)),
        (("auto64",), "i686", ()),
        (("auto32",), "armv7l", ("armv7l",)),
        # A 64-bit machine without a 32-bit companion.
        (("auto32",), "ppc64le", ()),
        (("auto64",), "s390x", ("s390x",)),
    ],
)
def test_groups_expand_on_x86_64_and_aarch64_machines(
    words: tuple[str, ...], machine: str, archs: tuple[str, ...]
) -> None:
    assert expand_archs(words, machine) == archs


def test_uname_synonyms_name_the_machine() -> None:
    """platform.machine() says amd64 or arm64 on some systems."""
    assert expand_archs(("native",), "amd64") == ("x86_64",)
    assert expand_archs(("auto32",), "AMD64") == ("i686",)
    assert expand_archs(("native",), "arm64") == ("aarch64",)
    assert expand_archs(("auto32",), "arm64") == ("armv7l",)
    assert native_arch("i386") == "i686"
    assert native_arch("armv8l") == "armv7l"


def test_architecture_synonyms_are_accepted_as_words() -> None:
    assert expand_archs(("amd64", "arm64", "i386", "x86"), "x86_64") == (
        "x86_64",
        "aarch64",
        "i686",
    )
    assert expand_archs(("  AArch64 ", "PPC64LE"), "x86_64") == ("aarch64", "ppc64le")


def test_order_is_kept_and_nothing_repeats() -> None:
    assert expand_archs(("aarch64", "native", "i686", "auto", "x86_64"), "x86_64") == (
        "aarch64",
        "x86_64",
        "i686",
    )
    assert expand_archs(("riscv64", "all"), "x86_64") == ("riscv64", *ALL[:-1])
    assert expand_archs(("auto64", "auto32", "auto"), "aarch64") == ("aarch64", "armv7l")
    assert expand_archs((), "x86_64") == ()


@pytest.mark.parametrize("word", ["mips", "arm", "x86-64", "everything", ""])
def test_an_unknown_word_is_a_value_error_naming_it(word: str) -> None:
    with pytest.raises(ValueError, match=f"^{word}$"):
        expand_archs(("x86_64", word), "x86_64")


@pytest.mark.parametrize(
    ("arch", "machine", "native"),
    [
        ("x86_64", "x86_64", True),
        ("i686", "x86_64", True),  # a 64-bit x86 kernel runs 32-bit programs
        ("aarch64", "x86_64", False),
        ("armv7l", "x86_64", False),
        ("aarch64", "aarch64", True),
        ("armv7l", "aarch64", True),
        ("i686", "aarch64", False),
        ("x86_64", "aarch64", False),
        ("x86_64", "amd64", True),  # the machine's synonym
        ("i686", "amd64", True),
        ("armv7l", "arm64", True),
        ("x86_64", "i686", False),  # the 32-bit kernel does not run the 64-bit programs
        ("ppc64le", "s390x", False),
    ],
)
def test_runs_natively(arch: str, machine: str, native: bool) -> None:
    assert runs_natively(arch, machine) is native


def test_the_machine_defaults_to_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert native_arch() == "aarch64"
    assert expand_archs(("native", "auto32")) == ("aarch64", "armv7l")
    assert runs_natively("armv7l")
    assert not runs_natively("x86_64")


def test_every_architecture_has_a_platform_and_an_emulator() -> None:
    assert [a.name for a in ARCHS] == list(ALL)
    assert {a.name: (a.oci, a.bits, a.qemu) for a in ARCHS} == {
        "x86_64": ("linux/amd64", 64, "x86_64"),
        "i686": ("linux/386", 32, "i386"),
        "aarch64": ("linux/arm64", 64, "aarch64"),
        "ppc64le": ("linux/ppc64le", 64, "ppc64le"),
        "s390x": ("linux/s390x", 64, "s390x"),
        "armv7l": ("linux/arm/v7", 32, "arm"),
        "riscv64": ("linux/riscv64", 64, "riscv64"),
    }
    assert arch_info("arm64") is arch_info("aarch64")
    assert arch_info("i686").companion_of == "x86_64"
    with pytest.raises(KeyError):
        arch_info("mips")


@pytest.mark.parametrize(
    ("platform_", "arch"),
    [("linux/amd64", "x86_64"), ("linux/386", "i686"), ("linux/arm64", "aarch64"),
     ("linux/arm64/v8", "aarch64"), ("linux/arm/v7", "armv7l"), ("linux/arm", "armv7l"),
     ("linux/ppc64le", "ppc64le"), ("linux/s390x", "s390x"), ("linux/riscv64", "riscv64"),
     ("linux/arm64be", None), ("linux/mips64le", None), ("linux/ppc64", None),
     ("windows/amd64", None)],
)  # fmt: skip
def test_the_architecture_of_an_oci_platform(platform_: str, arch: str | None) -> None:
    """As engines name platforms (podman lists emulated ones as linux/arm, linux/arm64)."""
    assert arch_of_platform(platform_) == arch
