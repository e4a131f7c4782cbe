"""The build-requirements file and every file it includes (``-r``/``-c``), as pip reads them.

pip reads an included file relative to the file that includes it. The container gets each
local file under a flat name of its own (``requirements.txt``, ``requirements-1.txt``, ...), with
the include lines rewritten to those names: an include may point anywhere on the host (``../``,
an absolute path), which no copy of the project's folder tree would hold. URLs, paths with
``${VARIABLES}`` (pip expands them in the container) and absolute paths that do not exist on
this machine (a file of the image, perhaps) are left alone.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .._errors import ConfigError

__all__ = ["RequirementFiles", "requirement_files", "requirements_digest"]

TOP = "requirements.txt"  # the top file's name in the container's inbox

_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, https:, file: (pip fetches those)
# pip's long options in requirement files: optparse takes any unambiguous prefix of them.
_LONG = (
    "--requirement", "--constraint", "--editable", "--index-url", "--extra-index-url",
    "--no-index", "--find-links", "--no-binary", "--only-binary", "--prefer-binary",
    "--require-hashes", "--pre", "--trusted-host", "--use-feature", "--hash",
    "--config-settings", "--global-option",
)  # fmt: skip
_SHORT = {"-r": "--requirement", "-c": "--constraint"}


@dataclass(frozen=True)
class RequirementFiles:
    paths: tuple[Path, ...]  # every local file read, the top file first
    inbox: dict[str, bytes]  # what goes into the container: name -> content, includes renamed


def _long_option(word: str) -> str | None:
    """The long option ``word`` (without ``=value``) stands for, when it is unambiguous."""
    if word in _LONG:
        return word
    matches = [o for o in _LONG if o.startswith(word)] if len(word) > 2 else []
    return matches[0] if len(matches) == 1 else None


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(first, last) physical line index and the joined line, pip's way (``\\`` continues)."""
    out: list[tuple[int, int, str]] = []
    parts: list[str] = []
    first = 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        comment = _COMMENT.match(line) is not None
        if line.endswith("\\") and not comment:
            if not parts:
                first = i
            parts.append(line.strip("\\"))
            continue
        if parts:
            out.append((first, i, "".join([*parts, " " + line if comment else line])))
            parts = []
        else:
            out.append((i, i, line))
    if parts:
        out.append((first, len(lines) - 1, "".join(parts)))
    return out


@dataclass(frozen=True)
class _Include:
    index: int  # of its first word in the line
    words: int  # 1 (-rFILE, --requirement=FILE) or 2 (-r FILE)
    option: str  # --requirement or --constraint
    value: str


def _includes(line: str) -> tuple[list[str], list[_Include]]:
    """An option line's words and its includes (none for a requirement line)."""
    line = _COMMENT.sub("", line).strip()
    if not line.startswith("-"):
        return [], []  # a requirement (its options, such as --hash, include nothing)
    try:
        words = shlex.split(line)
    except ValueError:
        return [], []  # pip fails on it the same way
    found: list[_Include] = []
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        option = _SHORT.get(words[i][:2])
        if option is not None:
            eq, value = "", words[i][2:]
        elif name.startswith("--") and _long_option(name) in ("--requirement", "--constraint"):
            option = _long_option(name)
        if option is None:
            i += 1
        elif value or eq:
            found.append(_Include(i, 1, option, value))
            i += 1
        elif i + 1 < len(words):
            found.append(_Include(i, 2, option, words[i + 1]))
            i += 2
        else:
            break
    return words, [f for f in found if f.value]


class _Reader:
    def __init__(self) -> None:
        self.names: dict[Path, str] = {}
        self.inbox: dict[str, bytes] = {}

    def read(self, path: Path) -> str:
        """``path``'s name in the inbox (reading it and what it includes the first time)."""
        key = path.resolve()
        if key in self.names:
            return self.names[key]
        name = TOP if not self.names else f"requirements-{len(self.names)}.txt"
        self.names[key] = name
        self.inbox[name] = self._rewrite(path, path.read_bytes())
        return name

    def _local(self, path: Path, line: int, include: _Include) -> str:
        """The inbox name of an included file (read now), or its URL as it is."""
        if _URL.match(include.value) or "${" in include.value:
            return include.value  # a URL, or a variable pip expands in the container
        target = path.parent / include.value
        if Path(include.value).is_absolute() and not target.is_file():
            return include.value  # not on this machine: a file of the image, perhaps
        if not target.is_file():
            raise ConfigError(
                f"{path}, line {line}: '{include.option} {include.value}' names {target}, "
                "which does not exist",
                tip="create the file or fix the path (an included file's path starts at the "
                f"folder of the file that includes it, {path.parent})",
            )
        return self.read(target)

    def _rewrite(self, path: Path, raw: bytes) -> bytes:
        text = raw.decode("utf-8", errors="surrogateescape")
        edits: list[tuple[int, int, str]] = []
        for first, last, line in _logical_lines(text):
            words, found = _includes(line)
            if not found:
                continue
            names = [self._local(path, first + 1, f) for f in found]
            if names == [f.value for f in found]:
                continue  # nothing renamed: the line stays as written
            for include, name in reversed(list(zip(found, names, strict=True))):
                words[include.index : include.index + include.words] = [include.option, name]
            edits.append((first, last, shlex.join(words)))
        if not edits:
            return raw
        lines = text.splitlines()
        for first, last, line in reversed(edits):
            lines[first : last + 1] = [line]
        return ("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape")


def requirement_files(path: Path) -> RequirementFiles:
    """``path`` and every local file it includes, renamed for the container's inbox."""
    reader = _Reader()
    reader.read(path)
    return RequirementFiles(tuple(reader.names), reader.inbox)


def requirements_digest(path: Path | None) -> str | None:
    """A hash of what the build requirements say, includes and all (None: no file)."""
    if path is None:
        return None
    digest = hashlib.sha256()
    for name, content in sorted(requirement_files(path).inbox.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()
