"""Which images a run builds in: one ``image``, or a matrix of (libc, arch) platforms.

Without ``archs``, ``libc`` or a per-platform image key, a run builds the interpreters of
``image`` for the architecture that image is (as before the matrix existed). With any of
them, the platforms are ``libc`` x ``archs``, each built in the image(s) its key names
(``manylinux-aarch64-image``), by default the manylinux project's image for it; ``image``,
when changed from its default, is the image of manylinux on this machine's architecture
unless that platform's key is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .._arch import ARCHS, LIBCS, expand_archs, native_arch
from .._errors import ConfigError
from .registry import (
    DEFAULT_IMAGE,
    DEFAULT_MANYLINUX,
    DEFAULT_MUSLLINUX,
    DEFAULT_POLICY,
    image_key,
)

__all__ = ["ImageSpec", "image_specs", "short_image"]

# cibuildwheel's short image names: a policy, published as quay.io/pypa/<policy>_<arch>.
_SHORT = re.compile(r"^(manylinux(?:1|2010|2014|_2_\d+)|musllinux_1_\d+)$")


@dataclass(frozen=True)
class ImageSpec:
    """An image to build in, before it is inspected."""

    image: str  # the reference
    key: str  # the option that named it, for messages: image, manylinux-aarch64-image, ...
    libc: str | None = None  # None: the image's own (single-image mode), discovered
    arch: str | None = None  # likewise; else containers run with this platform
    policy: str | None = None  # manylinux_2_28 when named by a short name

    @property
    def platform(self) -> str | None:
        """libc_arch, e.g. manylinux_aarch64; None in single-image mode."""
        return None if self.libc is None or self.arch is None else f"{self.libc}_{self.arch}"


def short_image(name: str, arch: str) -> tuple[str, str | None]:
    """A reference for an image key's value and the policy its short name says, if it is one."""
    if _SHORT.match(name):
        return f"quay.io/pypa/{name}_{arch}", name
    return name, None


def _default(libc: str, arch: str) -> str:
    return DEFAULT_MUSLLINUX if libc == "musllinux" else DEFAULT_POLICY.get(arch, DEFAULT_MANYLINUX)


def image_specs(
    archs: tuple[str, ...],
    libcs: tuple[str, ...],
    keys: dict[tuple[str, str], tuple[str, ...]],
    image: str,
    *,
    defaults: dict[str, str] | None = None,
    machine: str | None = None,
    where: str = "configuration",
    origin: Mapping[str, str] | None = None,
) -> tuple[ImageSpec, ...]:
    """The images of a run. ``keys``: the per-platform image keys that are set, by (libc, arch);
    ``defaults``: images by key name for those that are not (else manywheel's defaults).
    Raises ConfigError for words ``archs`` or ``libc`` do not know, naming where the key was
    set (``origin``: by option name; else ``where``)."""

    def at(key: str) -> str:
        return (origin or {}).get(key, where)

    try:
        wanted_archs = expand_archs(archs, machine)
    except ValueError as e:
        raise ConfigError(
            f"{at('archs')}: 'archs' has unknown architecture '{e}'",
            tip="use x86_64, i686, aarch64, ppc64le, s390x, armv7l, riscv64, "
            "or native, auto, auto64, auto32, all",
        ) from None
    for libc in libcs:
        if libc not in LIBCS:
            raise ConfigError(
                f"{at('libc')}: 'libc' has unknown value '{libc}'",
                tip="use manylinux (glibc) and/or musllinux",
            )
    named = {k: v for k, v in keys.items() if v}
    if not wanted_archs and not libcs and not named:
        return (ImageSpec(image, "image"),)
    native = ("manylinux", native_arch(machine))
    if not wanted_archs and not libcs:  # image keys alone: just their platforms
        platforms = [p for p in ((c, a.name) for c in LIBCS for a in ARCHS) if p in named]
    else:  # archs x libc, each defaulting to the keys' (else this machine's arch, manylinux)
        arch_list = wanted_archs or tuple(dict.fromkeys(a for _, a in named)) or (native[1],)
        libc_list = tuple(dict.fromkeys(libcs)) or tuple(dict.fromkeys(c for c, _ in named))
        platforms = [(c, a) for c in libc_list or ("manylinux",) for a in arch_list]
    specs: list[ImageSpec] = []
    for libc, arch in platforms:
        key = image_key(libc, arch)
        names = named.get((libc, arch))
        if not names and (libc, arch) == native and image != DEFAULT_IMAGE:
            key, names = "image", (image,)  # image: manylinux on this machine's arch
        if not names:
            names = ((defaults or {}).get(key) or _default(libc, arch),)
        for name in names:
            ref, policy = short_image(name, arch)
            if policy is not None and not policy.startswith(libc):
                raise ConfigError(
                    f"{at(key)}: '{key}' is '{name}', a {policy.split('_')[0]} image",
                    tip=f"name a {libc} image for {key}",
                )
            spec = ImageSpec(ref, key, libc, arch, policy)
            if spec not in specs:
                specs.append(spec)
    return tuple(specs)
