"""Helpers that write POSIX shell safely."""

from __future__ import annotations

import functools
import re
import shlex
from importlib import resources

__all__ = [
    "dquote",
    "export_literal",
    "export_word",
    "fill_placeholders",
    "fixed_script",
    "quote",
    "split_assignments",
    "word_value",
]

quote = shlex.quote


@functools.cache
def fixed_script(name: str) -> str:
    """A script kept as a file in ``_scripts/sh`` (package data; the tests run shellcheck on it)."""
    return (resources.files("manywheel._scripts") / "sh" / name).read_text(encoding="utf-8")


def fill_placeholders(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` of ``values`` replaced, as cibuildwheel fills its
    commands: other braces stay as they are, and ``#{name}`` is a literal ``{name}``."""
    for name, value in values.items():
        pattern = r"(?<!#)\{" + re.escape(name) + r"\}"
        template = re.sub(pattern, value.replace("\\", "\\\\"), template)
        template = template.replace("#{" + name + "}", "{" + name + "}")
    return template


def dquote(value: str) -> str:
    """A double-quoted shell word: $VAR, ${VAR} and $(cmd) expand, nothing else is special."""
    return '"' + re.sub(r'(["\\`])', r"\\\1", value) + '"'


def export_literal(name: str, value: str) -> str:
    return f"export {name}={quote(value)}"


def export_word(name: str, word: str) -> str:
    """``export NAME=word`` for a shell word from :func:`split_assignments` (or :func:`dquote`)."""
    return f"export {name}={word}"


def word_value(word: str) -> str:
    """The literal text of a shell word, as far as it is knowable without running it."""
    try:
        return "".join(shlex.split(word))
    except ValueError:
        return word


def split_assignments(text: str) -> list[tuple[str, str]]:
    """Split ``A=1 B='x y' C="$HOME/z" D=$(cmd arg)`` into (name, shell word) pairs.

    The words keep their quoting, so exporting ``NAME=word`` in bash means exactly what the
    text means in a shell (single quotes stay literal, ``$VAR`` and ``$(cmd)`` expand), as
    cibuildwheel's ``environment`` does. Raises ``ValueError`` for unbalanced quotes or
    parentheses, shell operators, and words that are not ``NAME=VALUE``.
    """
    pairs: list[tuple[str, str]] = []
    for word in _words(text):
        name, sep, value = word.partition("=")
        if not sep or not _NAME.match(name):
            raise ValueError(f"'{word}' is not NAME=VALUE")
        pairs.append((name, value))
    return pairs


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _words(text: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    quote_char = ""  # ' or " or ` while inside that quote
    depth = 0  # nesting of $( ... )
    i = 0
    while i < len(text):
        c = text[i]
        if quote_char == "'":
            quote_char = "" if c == "'" else quote_char
        elif c == "\\" and quote_char != "`" and i + 1 < len(text):
            current.append(c)
            i += 1
            c = text[i]
        elif quote_char:
            quote_char = "" if c == quote_char else quote_char
        elif c in "'\"`":
            quote_char = c
        elif text.startswith("$(", i):
            depth += 1
            current.append(c)
            i += 1
            c = text[i]
        elif c == ")" and depth:
            depth -= 1
        elif depth == 0 and c.isspace():
            if current:
                words.append("".join(current))
                current = []
            i += 1
            continue
        elif depth == 0 and c in ";&|<>()":
            raise ValueError(f"'{c}' is not allowed outside quotes")
        current.append(c)
        i += 1
    if quote_char:
        raise ValueError(f"no closing {quote_char}")
    if depth:
        raise ValueError("no closing ) for $(")
    if current:
        words.append("".join(current))
    return words
