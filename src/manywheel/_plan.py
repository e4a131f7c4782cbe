"""Discover the interpreters an image offers and select the targets to build."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
from dataclasses import asdict, replace
from pathlib import Path

import platformdirs

from ._config.matrix import ImageSpec
from ._config.options import Options
from ._config.project import Project
from ._engines.protocol import Backend
from ._errors import ConfigError, EngineError, NothingToBuildError
from ._events import Emitter
from ._model import BuildImage, ImageFacts, Target
from ._scripts.shell import fixed_script, quote

__all__ = ["check_platform", "discover", "platform_wanted", "select_targets"]

# POSIX sh (_scripts/sh/discover.sh), with the Python it runs in each interpreter it finds.
DISCOVER_SCRIPT = (
    f"mw_discover_py={quote(fixed_script('discover.py'))}\n{fixed_script('discover.sh')}"
)

FACTS_FORMAT = 2  # 2: targets carry their platform; cached per image id and architecture
_CP_DIR = re.compile(r"/cp(\d)(\d+)-cp\d+t?$")


def parse_facts(output: str) -> ImageFacts:
    platform, plat, pkgmgr, shell = "manylinux_x86_64", "", None, "sh"
    found: list[Target] = []
    for line in output.splitlines():
        word, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if word == "platform":
            platform = rest
        elif word == "auditwheel_plat":
            plat = rest
        elif word == "pkgmgr":
            pkgmgr = rest or None
        elif word == "shell":
            shell = rest
        elif word == "python":
            parts = rest.split()
            if len(parts) != 4 or parts[1] != "cpython" or not _CP_DIR.search(parts[0]):
                continue
            path, _, version, ft = parts
            found.append(_target(platform, version, ft, f"{path}/bin/python"))
        elif word == "interpreter":
            parts = rest.split()
            if len(parts) == 4 and parts[1] == "cpython":
                exe, _, version, ft = parts
                found.append(_target(platform, version, ft, exe))
    unique = {t.identifier: t for t in reversed(found)}  # the first of an identifier wins
    ordered = sorted(
        unique.values(),
        key=lambda t: (tuple(int(x) for x in t.version.split(".")[:2]), t.free_threaded),
    )
    return ImageFacts(platform, plat, pkgmgr, shell, tuple(ordered))


def _target(platform: str, version: str, ft: str, python: str) -> Target:
    major, minor = version.split(".")[:2]
    tag = f"cp{major}{minor}" + ("t" if ft == "1" else "")
    return Target(f"{tag}-{platform}", version, ft == "1", python, platform)


def _facts_cache(image_id: str, arch: str | None) -> Path:
    key = hashlib.sha256(f"{image_id} {arch or ''}".encode()).hexdigest()[:32]
    return platformdirs.user_cache_path("manywheel") / "facts" / f"{key}-{FACTS_FORMAT}.json"


def _load_facts(image_id: str, arch: str | None) -> ImageFacts | None:
    try:
        data = json.loads(_facts_cache(image_id, arch).read_text())
        targets = tuple(Target(**t) for t in data.pop("interpreters"))
        return ImageFacts(**data, interpreters=targets)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _save_facts(image_id: str, arch: str | None, facts: ImageFacts) -> None:
    path = _facts_cache(image_id, arch)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(asdict(facts)))
        os.replace(tmp, path)


def discover(
    engine: Backend,
    image: str,
    image_id: str,
    name: str,
    labels: dict[str, str],
    *,
    arch: str | None = None,
) -> ImageFacts:
    """What the image offers (run as ``arch`` if given); asked once per image id and
    architecture, then remembered (images are immutable)."""
    cached = _load_facts(image_id, arch)
    if cached is not None:
        return cached
    facts = _discover(engine, image, name, labels, arch)
    _save_facts(image_id, arch, facts)
    return facts


def _discover(
    engine: Backend, image: str, name: str, labels: dict[str, str], arch: str | None
) -> ImageFacts:
    with engine.container(image, name, labels=labels, arch=arch) as ctr:
        result = engine.run_script(ctr, DISCOVER_SCRIPT)
    if result.returncode != 0:
        raise EngineError(
            f"could not inspect image {image}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return parse_facts(result.stdout)


def check_platform(spec: ImageSpec, facts: ImageFacts) -> None:
    """The image is what its key says: an aarch64 image for manylinux-aarch64-image, glibc
    for manylinux (else its wheels would be built and tagged for another platform)."""
    if spec.platform is None or facts.platform == spec.platform:
        return
    raise ConfigError(
        f"'{spec.key}' is {spec.image}, but that image is {facts.platform} "
        f"(uname -m and its C library, run as {spec.arch})",
        tip=f"name a {spec.platform} image for {spec.key}",
    )


def _qualified(images: tuple[BuildImage, ...]) -> dict[int, str]:
    """The identifier platform of each image (by index): libc_arch, or the policy
    (manylinux_2_28_x86_64) where several images share a platform, so identifiers stay unique."""
    labels = {i: im.platform for i, im in enumerate(images)}
    for platform in {im.platform for im in images}:
        group = [i for i, im in enumerate(images) if im.platform == platform]
        if len(group) < 2:
            continue
        for i in group:
            im = images[i]
            policy = im.policy or im.facts.auditwheel_plat.removesuffix(
                "_" + im.platform.split("_", 1)[1]
            )
            if not policy:
                raise ConfigError(
                    f"'{im.key}': several {platform} images, and {im.image} says no policy "
                    "(no AUDITWHEEL_PLAT in it, not named by a short name like manylinux_2_28)",
                    tip="name each image by its short name, or use images that set AUDITWHEEL_PLAT",
                )
            labels[i] = f"{policy}_{platform.split('_', 1)[1]}"
        names = [labels[i] for i in group]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"'{images[group[0]].key}': two {platform} images of the same policy "
                f"({', '.join(images[i].image for i in group)}); their identifiers would clash",
                tip="keep one image per policy and platform",
            )
    return labels


def _matches_selector(target: Target, selector: str) -> bool:
    if re.fullmatch(r"\d+\.\d+t?", selector):
        return target.minor == selector
    pattern = selector if "-" in selector else selector + "-*"
    return fnmatch.fnmatchcase(target.identifier, pattern)


def _interpreters(images: tuple[BuildImage, ...]) -> list[Target]:
    """Every interpreter of every image, as a target of that image."""
    labels = _qualified(images)
    found: list[Target] = []
    for i, im in enumerate(images):
        if not im.facts.interpreters:  # (host mode says so in discover_host)
            raise NothingToBuildError(
                f"image {im.image} has no CPython under /opt/python/cpXY-cpXY",
                tip="use a manylinux image (the default is quay.io/pypa/manylinux_2_34_x86_64)",
            )
        for t in im.facts.interpreters:
            tag = t.identifier.split("-", 1)[0]
            found.append(replace(t, identifier=f"{tag}-{labels[i]}", image=im.image))
    return found


def select_targets(
    options: Options, project: Project, images: tuple[BuildImage, ...], emitter: Emitter
) -> tuple[Target, ...]:
    available = _interpreters(images)
    chosen = list(available)
    if options.python:
        missing = [s for s in options.python if not any(_matches_selector(t, s) for t in available)]
        if missing:
            have = ", ".join(dict.fromkeys(t.minor for t in available))
            where = images[0].image if len(images) == 1 else "any image"
            raise ConfigError(
                f"'python': {', '.join(missing)} not found in {where} (it has {have})",
                tip="pick from the versions the image has, or choose another image",
            )
        chosen = [t for t in available if any(_matches_selector(t, s) for s in options.python)]
    if project.requires_python is not None:
        allowed = [
            t for t in chosen if project.requires_python.contains(t.version, prereleases=True)
        ]
        for t in chosen:
            if t not in allowed and options.python:
                emitter.warning(
                    f"{t.identifier} skipped: the project requires Python {project.requires_python}"
                )
        chosen = allowed
    chosen = [t for t in chosen if _globs_select(options, t)]
    if not chosen:
        raise NothingToBuildError(
            "no target selected: " + ", ".join(t.identifier for t in available) + " all excluded",
            tip="check 'python', 'build', 'skip' and the project's requires-python",
        )
    return tuple(chosen)


def platform_wanted(options: Options, label: str) -> bool:
    """Whether ``build``, ``skip`` and ``python`` can select any CPython of a platform (its
    identifier part, manylinux_x86_64), judged on the identifiers it could have: a platform
    whose every target would be skipped (skip = "*-musllinux_*") is neither pulled nor
    inspected."""
    for minor in range(6, 30):
        for ft in (False, True):
            tag = f"cp3{minor}" + ("t" if ft else "")
            probe = Target(f"{tag}-{label}", f"3.{minor}.0", ft, "", label)
            if options.python and not any(_matches_selector(probe, s) for s in options.python):
                continue
            if _globs_select(options, probe):
                return True
    return False


def _globs_select(options: Options, target: Target) -> bool:
    return any(fnmatch.fnmatchcase(target.identifier, g) for g in options.build) and not any(
        fnmatch.fnmatchcase(target.identifier, g) for g in options.skip
    )
