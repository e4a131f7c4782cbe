"""Discover the interpreters an image offers and select the targets to build."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path

import platformdirs

from ._config.options import Options
from ._config.project import Project
from ._engines.protocol import Backend
from ._errors import ConfigError, EngineError, NothingToBuildError
from ._events import Emitter
from ._model import ImageFacts, Target
from ._scripts.shell import fixed_script, quote

__all__ = ["discover", "select_targets"]

# POSIX sh (_scripts/sh/discover.sh), with the Python it runs in each interpreter it finds.
DISCOVER_SCRIPT = (
    f"mw_discover_py={quote(fixed_script('discover.py'))}\n{fixed_script('discover.sh')}"
)

FACTS_FORMAT = 1
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
    return Target(f"{tag}-{platform}", version, ft == "1", python)


def _facts_cache(image_id: str) -> Path:
    key = hashlib.sha256(image_id.encode()).hexdigest()[:32]
    return platformdirs.user_cache_path("manywheel") / "facts" / f"{key}-{FACTS_FORMAT}.json"


def _load_facts(image_id: str) -> ImageFacts | None:
    try:
        data = json.loads(_facts_cache(image_id).read_text())
        targets = tuple(Target(**t) for t in data.pop("interpreters"))
        return ImageFacts(**data, interpreters=targets)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _save_facts(image_id: str, facts: ImageFacts) -> None:
    path = _facts_cache(image_id)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(asdict(facts)))
        os.replace(tmp, path)


def discover(
    engine: Backend, image: str, image_id: str, name: str, labels: dict[str, str]
) -> ImageFacts:
    """What the image offers; asked once per image id, then remembered (images are immutable)."""
    cached = _load_facts(image_id)
    if cached is not None:
        return cached
    facts = _discover(engine, image, name, labels)
    _save_facts(image_id, facts)
    return facts


def _discover(engine: Backend, image: str, name: str, labels: dict[str, str]) -> ImageFacts:
    with engine.container(image, name, labels=labels) as ctr:
        result = engine.run_script(ctr, DISCOVER_SCRIPT)
    if result.returncode != 0:
        raise EngineError(
            f"could not inspect image {image}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return parse_facts(result.stdout)


def _matches_selector(target: Target, selector: str) -> bool:
    if re.fullmatch(r"\d+\.\d+t?", selector):
        return target.minor == selector
    pattern = selector if "-" in selector else selector + "-*"
    return fnmatch.fnmatchcase(target.identifier, pattern)


def select_targets(
    options: Options, project: Project, facts: ImageFacts, image: str, emitter: Emitter
) -> tuple[Target, ...]:
    available = facts.interpreters
    if not available:  # (host mode says so in discover_host)
        raise NothingToBuildError(
            f"image {image} has no CPython under /opt/python/cpXY-cpXY",
            tip="use a manylinux image (the default is quay.io/pypa/manylinux_2_34_x86_64)",
        )
    chosen = list(available)
    if options.python:
        missing = [s for s in options.python if not any(_matches_selector(t, s) for t in available)]
        if missing:
            have = ", ".join(t.minor for t in available)
            raise ConfigError(
                f"'python': {', '.join(missing)} not found in image {image} (it has {have})",
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
    chosen = [
        t
        for t in chosen
        if any(fnmatch.fnmatchcase(t.identifier, g) for g in options.build)
        and not any(fnmatch.fnmatchcase(t.identifier, g) for g in options.skip)
    ]
    if not chosen:
        raise NothingToBuildError(
            "no target selected: " + ", ".join(t.identifier for t in available) + " all excluded",
            tip="check 'python', 'build', 'skip' and the project's requires-python",
        )
    return tuple(chosen)
