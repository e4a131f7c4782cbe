"""Which identifiers a selector names, as cibuildwheel reads selectors: globs with braces,
and the ``enable`` groups that interpreters outside the default set belong to.

A selector is one or more whitespace-separated globs (``fnmatch``, case-sensitive), each
brace-expanded first as a shell does: ``cp{311,312,313t}-*`` is three globs, ``cp3{10..13}-*``
four. Pure functions of strings; the plan applies them to the interpreters it found.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator

__all__ = [
    "ENABLE_GROUPS",
    "RETIRED_GROUPS",
    "expand_braces",
    "group_of",
    "parse_enable",
    "selector_matches",
]

# cibuildwheel 4's groups of interpreters that are built only when enabled (`enable`), with
# what each holds. `all` enables every one.
ENABLE_GROUPS = {
    "cpython-prerelease": "CPython alpha and beta releases",
    "pypy": "PyPy",
    "pypy-eol": "PyPy versions past their end of life (3.10 and older)",
    "graalpy": "GraalPy",
    "pyodide-eol": "older Pyodide versions (not a Linux build)",
    "pyodide-prerelease": "Pyodide pre-releases (not a Linux build)",
}
# Groups earlier cibuildwheel versions had (still in many released sdists' pyproject.toml); on
# them cibuildwheel 4 stops with an error, manywheel warns and goes on.
RETIRED_GROUPS = {
    "cpython-freethreading": "cibuildwheel 4 builds free-threaded CPython 3.14 and later by "
    "default and no longer builds 3.13t",
    "cpython-experimental-riscv64": "riscv64 is built like every other architecture",
}


def parse_enable(words: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The enabled groups, and the retired ones named (to warn about). ValueError names a
    word that is neither."""
    enabled: set[str] = set()
    retired: list[str] = []
    for word in words:
        if word == "all":
            enabled |= set(ENABLE_GROUPS)
        elif word in ENABLE_GROUPS:
            enabled.add(word)
        elif word in RETIRED_GROUPS:
            retired.append(word)
        else:
            raise ValueError(word)
    return frozenset(enabled), tuple(dict.fromkeys(retired))


_TAG = re.compile(r"^(cp|pp|gp)(\d)(\d+)(t?)(?:_\d+)?$")


def group_of(identifier: str, *, prerelease: bool = False) -> str | None:
    """The group an interpreter must be enabled by (``None``: built by default). ``cp313t``
    is in no group that exists: cibuildwheel 4 does not build it at all."""
    tag = identifier.split("-", 1)[0]
    found = _TAG.match(tag)
    if found is None:
        return None
    kind, major, minor, ft = found.groups()
    if kind == "gp":
        return "graalpy"
    if kind == "pp":
        return "pypy-eol" if (int(major), int(minor)) <= (3, 10) else "pypy"
    if ft and (int(major), int(minor)) <= (3, 13):
        return "cpython-freethreading"
    return "cpython-prerelease" if prerelease else None


def selector_matches(patterns: Iterable[str], identifier: str) -> bool:
    """Whether any glob of ``patterns`` (each item may hold several, space-separated, with
    braces) matches ``identifier``."""
    for item in patterns:
        for word in item.split():
            if any(fnmatch.fnmatchcase(identifier, _unescape(g)) for g in expand_braces(word)):
                return True
    return False


def expand_braces(pattern: str) -> list[str]:
    """Brace expansion as bash (and cibuildwheel's bracex) do it: ``a{b,c}d`` is ``abd``,
    ``acd``; nested braces, ``{1..3}`` and ``{a..c}`` ranges (with an optional step). A brace
    with no comma and no range, or an unbalanced one, stays as written; ``\\`` escapes."""
    start = _first_brace(pattern)
    if start is None:
        return [pattern]
    end = _closing(pattern, start)
    if end is None:  # unbalanced: this brace is literal, later ones may still expand
        return [pattern[: start + 1] + rest for rest in expand_braces(pattern[start + 1 :])]
    head, body, tail = pattern[:start], pattern[start + 1 : end], pattern[end + 1 :]
    items = _split_top(body)
    if len(items) > 1:
        choices = [c for item in items for c in expand_braces(item)]
    elif (seq := _sequence(body)) is not None:
        choices = seq
    else:  # {x}: literal braces around an expanded inside
        choices = ["{" + c + "}" for c in expand_braces(body)]
    tails = expand_braces(tail)
    return [head + c + t for c in choices for t in tails]


def _unescape(glob: str) -> str:
    """A glob with the backslashes that kept braces and commas literal removed."""
    return re.sub(r"\\([{},\\])", r"\1", glob)


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Each piece of ``text`` from ``start``: (index, piece, brace depth after it), a piece
    being a character or an escaped pair (``\\{``), which opens and closes nothing."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            yield i, text[i : i + 2], depth
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        yield i, text[i], depth
        i += 1


def _first_brace(text: str) -> int | None:
    return next((i for i, piece, _ in _scan(text) if piece == "{"), None)


def _closing(text: str, start: int) -> int | None:
    return next((i for i, piece, depth in _scan(text, start) if piece == "}" and depth == 0), None)


def _split_top(body: str) -> list[str]:
    """``body`` split at its top-level commas."""
    items: list[str] = []
    current: list[str] = []
    for _, piece, depth in _scan(body):
        if piece == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(piece)
    items.append("".join(current))
    return items


_RANGE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


def _sequence(body: str) -> list[str] | None:
    """``1..5``, ``05..10`` (zero-padded as written), ``a..e``, with an optional ``..step``."""
    found = _RANGE.match(body)
    if found is None:
        return None
    first, last, step_text = found.groups()
    step = abs(int(step_text)) if step_text else 1
    step = step or 1
    if first.lstrip("-").isdigit() != last.lstrip("-").isdigit():
        return None
    if first.lstrip("-").isdigit():
        a, b = int(first), int(last)
        width = max(len(first), len(last)) if first.startswith("0") or last.startswith("0") else 0
        numbers = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
        return [str(n).zfill(width) if width else str(n) for n in numbers]
    a, b = ord(first), ord(last)
    codes = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
    return [chr(c) for c in codes]
