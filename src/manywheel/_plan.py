"""Discover the interpreters an image offers, select the targets to build, and, with several
builders, the builder each builds on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

import platformdirs
from packaging.specifiers import SpecifierSet

from ._builders import (
    Runner,
    discovery,
    parse_builders,
)
from ._builders.fleet import discover_builders
from ._config.matrix import ImageSpec
from ._config.options import Options
from ._config.project import Project
from ._config.selectors import (
    ENABLE_GROUPS,
    expand_braces,
    group_of,
    parse_enable,
    selector_matches,
)
from ._engines.protocol import Backend
from ._errors import ConfigError, EngineError, NothingToBuildError
from ._events import Emitter
from ._logs import default_log_root
from ._model import Assignment, BuildImage, ImageFacts, Target
from ._schedule import assign, previous_durations
from ._scripts.shell import fixed_script, quote

__all__ = ["check_platform", "discover", "place_targets", "platform_wanted", "select_targets"]

# POSIX sh (_scripts/sh/discover.sh), with the Python it runs in each interpreter it finds.
DISCOVER_SCRIPT = (
    f"mw_discover_py={quote(fixed_script('discover.py'))}\n{fixed_script('discover.sh')}"
)

FACTS_FORMAT = 4  # 3: implementation, release level; 4: uv. Cached per image id and architecture
# The interpreter folders of a manylinux image: /opt/python/cp313-cp313(t), pp311-pypy311_pp73,
# graalpy313-graalpy253_313_native.
_INTERPRETER_DIR = {
    "cpython": re.compile(r"/cp(\d)(\d+)-cp\d+t?$"),
    "pypy": re.compile(r"/pp\d+-pypy\d+_pp\d+$"),
    "graalpy": re.compile(r"/graalpy\d+-graalpy\w*$"),
}


def parse_facts(output: str) -> ImageFacts:
    platform, plat, pkgmgr, shell, uv = "manylinux_x86_64", "", None, "sh", ""
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
        elif word == "uv":
            uv = rest
        elif word in ("python", "interpreter"):
            target = _interpreter(word, rest.split(), platform)
            if target is not None:
                found.append(target)
    unique = {t.identifier: t for t in reversed(found)}  # the first of an identifier wins
    order = {"cpython": 0, "pypy": 1, "graalpy": 2}
    ordered = sorted(
        unique.values(),
        key=lambda t: (
            order[t.implementation],
            tuple(int(x) for x in t.version.split(".")[:2]),
            t.free_threaded,
        ),
    )
    return ImageFacts(platform, plat, pkgmgr, shell, tuple(ordered), uv)


def _interpreter(kind: str, parts: list[str], platform: str) -> Target | None:
    """The target of one line of discover.py's output (older scripts print four fields:
    path, implementation, version, free-threaded)."""
    if len(parts) not in (4, 6) or parts[1] not in _INTERPRETER_DIR:
        return None
    path, impl, version, ft = parts[:4]
    level, impl_version = parts[4:6] if len(parts) == 6 else ("final", "")
    if kind == "python" and not _INTERPRETER_DIR[impl].search(path):
        return None
    if kind == "interpreter" and impl != "cpython":
        return None  # a PyPy on PATH is not a manylinux interpreter
    major, minor = version.split(".")[:2]
    if impl == "cpython":
        tag = f"cp{major}{minor}" + ("t" if ft == "1" else "")
    elif impl == "pypy":
        tag = f"pp{major}{minor}"
    else:
        tag = f"gp{major}{minor}_{impl_version.replace('.', '')}"
    python = f"{path}/bin/python" if kind == "python" else path
    return Target(
        f"{tag}-{platform}",
        version,
        ft == "1",
        python,
        platform,
        implementation=impl,
        prerelease=level in ("alpha", "beta"),
    )


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
    """A ``python`` selector: a CPython version (3.13, 3.13t) or an identifier glob."""
    if re.fullmatch(r"\d+\.\d+t?", selector):
        return target.implementation == "cpython" and target.minor == selector
    return any(
        selector_matches([g if "-" in g else g + "-*"], target.identifier)
        for g in expand_braces(selector)
    )


def _interpreters(images: tuple[BuildImage, ...]) -> list[Target]:
    """Every interpreter of every image, as a target of that image."""
    labels = _qualified(images)
    found: list[Target] = []
    for i, im in enumerate(images):
        if not im.facts.interpreters:  # (host mode says so in discover_host)
            raise NothingToBuildError(
                f"image {im.image} has no Python under /opt/python (cpXY-cpXY, ppXY-pypy...)",
                tip="use a manylinux image (the default is quay.io/pypa/manylinux_2_34_x86_64)",
            )
        for t in im.facts.interpreters:
            tag = t.identifier.split("-", 1)[0]
            found.append(replace(t, identifier=f"{tag}-{labels[i]}", image=im.image))
    return found


def _allowed(spec: SpecifierSet, target: Target) -> bool:
    """requires-python as cibuildwheel applies it: to the newest micro release (X.Y.99), so
    ``>=3.12.1`` keeps CPython 3.12 whichever 3.12 the image has."""
    major, minor = target.version.split(".")[:2]
    return spec.contains(f"{major}.{minor}.99", prereleases=True)


def _held_back(target: Target, group: str) -> str:
    """Why a target of a group that is not enabled is not built, and what would build it."""
    if group == "cpython-freethreading":
        return (
            "free-threaded CPython 3.13 is experimental and cibuildwheel 4 no longer builds it "
            '(python = ["3.13t"] builds it)'
        )
    if group == "cpython-prerelease":
        return (
            f'CPython {target.version} is a pre-release (enable = ["cpython-prerelease"] builds it)'
        )
    return f'{ENABLE_GROUPS[group]} is built only with enable = ["{group}"]'


def select_targets(
    options: Options, project: Project, images: tuple[BuildImage, ...], emitter: Emitter
) -> tuple[Target, ...]:
    """The targets ``python``, requires-python, the enabled groups, ``build`` and ``skip``
    select, in the images' order. A version named in ``python`` is built whatever its group."""
    available = _interpreters(images)
    if options.python:
        missing = [s for s in options.python if not any(_matches_selector(t, s) for t in available)]
        if missing:
            have = ", ".join(
                dict.fromkeys(t.minor for t in available if t.implementation == "cpython")
            )
            where = images[0].image if len(images) == 1 else "any image"
            raise ConfigError(
                f"'python': {', '.join(missing)} not found in {where} (it has {have})",
                tip="pick from the versions the image has, or choose another image",
            )
    requires = (
        SpecifierSet(options.requires_python)
        if options.requires_python is not None
        else project.requires_python
    )
    enabled, _ = parse_enable(options.enable)
    chosen: list[Target] = []
    held: list[str] = []
    for t in available:
        explicit = any(_matches_selector(t, s) for s in options.python)
        if options.python and not explicit:
            continue
        if requires is not None and not _allowed(requires, t):
            if explicit:
                emitter.warning(f"{t.identifier} skipped: the project requires Python {requires}")
            continue
        if not _globs_select(options, t.identifier):
            continue
        group = group_of(t.identifier, prerelease=t.prerelease)
        if group is not None and group not in enabled and not explicit:
            held.append(f"{t.identifier} not built: {_held_back(t, group)}")
            if group == "cpython-prerelease":  # the others are in every manylinux image
                emitter.info(held[-1])
            continue
        chosen.append(t)
    if not chosen:
        raise NothingToBuildError(
            "no target selected: "
            + ", ".join(t.identifier for t in available)
            + " all excluded"
            + "".join(f"; {why}" for why in held),
            tip="check 'python', 'build', 'skip', 'enable' and the project's requires-python",
        )
    return tuple(chosen)


def _probes(enabled: frozenset[str]) -> list[str]:
    """The identifier tags a platform could have, to judge it before its image is inspected."""
    tags = [f"cp3{m}{t}" for m in range(6, 30) for t in ("", "t")]
    tags += [f"pp3{m}" for m in range(7, 16)]
    if "graalpy" in enabled:
        tags += [f"gp3{m}_{v}" for m in range(10, 16) for v in range(230, 270)]
    return tags


def platform_wanted(options: Options, label: str) -> bool:
    """Whether ``build``, ``skip``, ``enable`` and ``python`` can select any interpreter of a
    platform (its identifier part, manylinux_x86_64), judged on the identifiers it could
    have: a platform whose every target would be skipped (skip = "*-musllinux_*") is neither
    pulled nor inspected."""
    enabled, _ = parse_enable(options.enable)
    for tag in _probes(enabled):
        identifier = f"{tag}-{label}"
        impl = {"cp": "cpython", "pp": "pypy", "gp": "graalpy"}[tag[:2]]
        version = f"3.{tag[3:].rstrip('t').split('_')[0]}.0"
        probe = Target(identifier, version, tag.endswith("t"), "", label, implementation=impl)
        explicit = any(_matches_selector(probe, s) for s in options.python)
        if options.python and not explicit:
            continue
        group = group_of(identifier)
        if group is not None and group not in enabled and not explicit:
            continue
        if _globs_select(options, identifier):
            return True
    return False


def _globs_select(options: Options, identifier: str) -> bool:
    return selector_matches(options.build, identifier) and not selector_matches(
        options.skip, identifier
    )


def place_targets(
    options: Options,
    targets: tuple[Target, ...],
    *,
    runner: Runner | None = None,
    environ: Mapping[str, str] | None = None,
) -> Assignment | None:
    """Which builder each target builds on, when ``builders`` names more than one (each
    asked what it is, at once, with ``runner``: the engines' clients by default), or None:
    one builder, as every run without the option, and nothing is asked of any engine. As in
    a build, a builder that does not answer is left out while another answers (``plan``
    reached the builders first and warned of it); when none does, the first one's EngineError
    is raised."""
    builders = parse_builders(options.builders, engine=options.engine, environ=environ)
    if len(builders) < 2 or not targets:
        return None
    found, failed = discover_builders(builders, runner or discovery.run_client, environ=environ)
    if not found:
        raise failed[0][1]
    history = previous_durations(options.log_dir or default_log_root())
    return assign(targets, found, history, options.effective_jobs)
