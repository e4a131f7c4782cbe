"""What of a project stays out of builds, exports and fingerprints besides the host caches:
manywheel's own folders, VCS metadata (unless the version is computed from it) and the
``exclude`` globs. ``.gitignore`` is not read: ignored files are often generated inputs a build
needs (as cibuildwheel and ``docker build`` without a .dockerignore copy them too)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["NOTHING_MORE", "VCS_NAMES", "Exclusions", "bad_glob", "vcs_state", "vcs_versioning"]

# Version-control metadata (folders, and fossil's checkout files).
VCS_NAMES = frozenset(
    {".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul", ".fslckout", "_FOSSIL_"}
)
# Build requirements that compute the version from the VCS metadata (normalized names).
_VCS_VERSIONING = (
    "setuptools-scm", "hatch-vcs", "versioningit", "dunamai", "setuptools-git-versioning",
    "setuptools-git-version", "pbr", "poetry-dynamic-versioning", "uv-dynamic-versioning",
    "vcs-versioning", "versioneer",
)  # fmt: skip
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Exclusions:
    """Besides the host caches: ``folders`` (absolute, manywheel's own), the ``exclude`` globs,
    and VCS metadata unless ``vcs`` is False (a project whose version comes from it)."""

    folders: tuple[Path, ...] = ()
    globs: tuple[str, ...] = ()
    vcs: bool = True

    def skips(self, rel: PurePosixPath, is_dir: bool) -> bool:
        """Whether the entry at ``rel`` (relative to the project root) is left out."""
        if self.vcs and rel.name in VCS_NAMES:
            return True
        text = rel.as_posix()
        for glob in self.globs:
            regex, anchored, dir_only = _compile(glob)
            if (is_dir or not dir_only) and regex.fullmatch(text if anchored else rel.name):
                return True
        return False


NOTHING_MORE = Exclusions()  # only the host caches and VCS metadata


def bad_glob(glob: str) -> str | None:
    """Why ``glob`` is not a supported ``exclude`` pattern, or None."""
    if not glob.strip("/"):
        return "is empty"
    if glob.startswith("!"):
        return "is a negation ('!'), which is not supported"
    if ".." in glob.split("/"):
        return "leaves the project ('..')"
    return None


@functools.lru_cache(maxsize=256)
def _compile(glob: str) -> tuple[re.Pattern[str], bool, bool]:
    """gitignore-like: a trailing ``/`` matches folders only; a pattern with a ``/`` elsewhere
    is relative to the project root, one without matches a name at any depth; ``*`` and ``?``
    stay within a name, ``**`` crosses folders, ``[...]`` is a character class."""
    dir_only = glob.endswith("/")
    body = glob.rstrip("/")
    anchored = "/" in body
    body = body.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and (end := body.find("]", i + 2)) != -1:
            inner = body[i + 1 : end]
            inner = "^" + inner[1:] if inner.startswith("!") else inner
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    return re.compile("".join(out)), anchored, dir_only


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def vcs_versioning(project_dir: Path) -> str | None:
    """The tool that computes the project's version from its VCS metadata, if any: from
    ``[build-system] requires`` (or hatch/pdm's VCS version source), else setup.cfg/setup.py."""
    try:
        data = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    system = data.get("build-system")
    requires = system.get("requires", []) if isinstance(system, dict) else []
    for item in requires if isinstance(requires, list) else []:
        match = _NAME.match(item) if isinstance(item, str) else None
        if match and _normalized(match.group(1)) in _VCS_VERSIONING:
            return match.group(1)
    tool = data.get("tool")
    if isinstance(tool, dict):
        pdm = tool.get("pdm", {}).get("version", {}) if isinstance(tool.get("pdm"), dict) else {}
        if isinstance(pdm, dict) and pdm.get("source") == "scm":
            return "pdm-backend (version source scm)"
    for name in ("setup.cfg", "setup.py"):
        try:
            text = _normalized((project_dir / name).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        for tool_name in _VCS_VERSIONING:
            if re.search(rf"(?<![a-z0-9-]){re.escape(tool_name)}(?![a-z0-9])", text):
                return tool_name
        if "use-scm-version" in text:
            return "setuptools-scm"
    return None


def vcs_state(path: Path) -> str:
    """A digest of what a VCS folder tells about the version, not of its object files: for git,
    HEAD, the commit it names and every tag (loose or packed alike), so ``git gc`` changes
    nothing; for Mercurial, the working copy's parents, branch and local tags; any other VCS
    folder is hashed whole."""
    digest = hashlib.sha256(path.name.encode() + b"\0")
    if path.name == ".git" and path.is_dir():
        digest.update(json.dumps(_git_state(path)).encode())
    elif path.name == ".hg" and path.is_dir():
        digest.update(_read(path / "dirstate")[:40])
        digest.update(b"\0" + _read(path / "branch") + b"\0" + _read(path / "localtags"))
    elif path.is_file():
        digest.update(_read(path))
    else:
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                file = Path(dirpath, name)
                digest.update(file.relative_to(path).as_posix().encode() + b"\0" + _read(file))
    return digest.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _git_state(git: Path) -> list[object]:
    refs: dict[str, str] = {}
    for line in _read(git / "packed-refs").decode(errors="replace").splitlines():
        sha, _, name = line.partition(" ")
        if name and not line.startswith(("#", "^")):
            refs[name.strip()] = sha
    head = _read(git / "HEAD").decode(errors="replace").strip()
    ref = head[4:].strip() if head.startswith("ref:") else ""
    loose = [git / ref] if ref else []
    tags = git / "refs" / "tags"
    for dirpath, _, filenames in os.walk(tags):
        loose += [Path(dirpath, name) for name in filenames]
    for file in loose:
        if file.is_file():
            refs[file.relative_to(git).as_posix()] = _read(file).decode(errors="replace").strip()
    commit = refs.get(ref, "") if ref else head
    return [head, commit, sorted((k, v) for k, v in refs.items() if k.startswith("refs/tags/"))]
