"""The Linux architectures and libcs wheels are built for: names, OCI platforms, emulation.

Data and pure functions only. ``arch`` is the name wheels and ``uname -m`` use (x86_64,
i686, aarch64, ...); ``libc`` is ``manylinux`` (glibc) or ``musllinux``.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

__all__ = [
    "ARCHS",
    "LIBCS",
    "ArchInfo",
    "arch_info",
    "arch_of_platform",
    "expand_archs",
    "native_arch",
    "runs_natively",
]

LIBCS = ("manylinux", "musllinux")


@dataclass(frozen=True)
class ArchInfo:
    name: str  # as in wheel tags and `uname -m`
    oci: str  # the engine's --platform value
    bits: int
    qemu: str  # the binfmt_misc entry that runs it on another machine (qemu-<qemu>)
    companion_of: str | None = None  # the 64-bit architecture whose kernel runs it natively
    # QEMU_CPU for its containers: QEMU's CPU with the same features, cheaper to emulate
    qemu_cpu: str | None = None


ARCHS: tuple[ArchInfo, ...] = (
    ArchInfo("x86_64", "linux/amd64", 64, "x86_64"),
    ArchInfo("i686", "linux/386", 32, "i386", companion_of="x86_64"),
    # QEMU's "max" CPU (its default) checks pointer authentication with the QARMA5 cipher,
    # computed in software at every call and return of code built with branch protection
    # (Debian's arm64 packages): up to half the time of an emulated program. Its
    # implementation-defined algorithm is the same feature, much cheaper (QEMU made it the
    # default later); a pointer's signature is a per-process secret either way.
    ArchInfo("aarch64", "linux/arm64", 64, "aarch64", qemu_cpu="max,pauth-impdef=on"),
    ArchInfo("ppc64le", "linux/ppc64le", 64, "ppc64le"),
    ArchInfo("s390x", "linux/s390x", 64, "s390x"),
    ArchInfo("armv7l", "linux/arm/v7", 32, "arm", companion_of="aarch64"),
    ArchInfo("riscv64", "linux/riscv64", 64, "riscv64"),
)
_BY_NAME = {a.name: a for a in ARCHS}
# What `uname -m` (or platform.machine()) may say for each architecture.
_SYNONYMS = {
    "amd64": "x86_64",
    "i386": "i686",
    "x86": "i686",
    "arm64": "aarch64",
    "armv8l": "armv7l",
}
# The words `archs` takes besides architecture names (as cibuildwheel defines them on Linux).
ARCH_GROUPS = ("native", "auto", "auto64", "auto32", "all")


def arch_info(name: str) -> ArchInfo:
    return _BY_NAME[_SYNONYMS.get(name, name)]


def arch_of_platform(platform: str) -> str | None:
    """The architecture of an OCI platform (linux/arm64, linux/arm/v7, or linux/arm as podman
    names emulated ones), or None for one wheels are not built for (linux/mips)."""
    os_arch = "/".join(platform.split("/")[:2])
    return next(
        (a.name for a in ARCHS if a.oci.startswith(os_arch + "/") or a.oci == os_arch), None
    )


def native_arch(machine: str | None = None) -> str:
    """This machine's architecture, as wheels name it."""
    m = (machine or platform.machine()).lower()
    return _SYNONYMS.get(m, m)


def runs_natively(arch: str, machine: str | None = None) -> bool:
    """True when ``arch`` runs on this machine's kernel without emulation (its own
    architecture, or the 32-bit one its kernel also runs, as i686 on x86_64)."""
    host = native_arch(machine)
    info = _BY_NAME.get(_SYNONYMS.get(arch, arch))
    return arch == host or (info is not None and info.companion_of == host)


def expand_archs(words: tuple[str, ...], machine: str | None = None) -> tuple[str, ...]:
    """Architecture names for the words of ``archs`` (groups expanded, order kept, no
    repeats). ``auto`` and ``native`` are this machine's architecture, ``auto64`` the same if
    it is 64-bit, ``auto32`` its 32-bit companion (or itself if 32-bit), ``all`` every one.
    ValueError names a word that is neither."""
    host = native_arch(machine)
    out: list[str] = []
    for word in words:
        w = word.strip().lower()
        if w in ("native", "auto"):
            names = [host]
        elif w == "auto64":
            names = [host] if host in _BY_NAME and _BY_NAME[host].bits == 64 else []
        elif w == "auto32":
            if host in _BY_NAME and _BY_NAME[host].bits == 32:
                names = [host]
            else:
                names = [a.name for a in ARCHS if a.companion_of == host]
        elif w == "all":
            names = [a.name for a in ARCHS]
        elif _SYNONYMS.get(w, w) in _BY_NAME:
            names = [_SYNONYMS.get(w, w)]
        else:
            raise ValueError(word)
        out += [n for n in names if n not in out]
    return tuple(out)
