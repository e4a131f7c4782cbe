"""Helpers that write POSIX shell safely."""

from __future__ import annotations

import re
import shlex

__all__ = ["dquote", "export_expanding", "export_literal", "quote"]

quote = shlex.quote


def dquote(value: str) -> str:
    """A double-quoted shell word: $VAR, ${VAR} and $(cmd) expand, nothing else is special."""
    return '"' + re.sub(r'(["\\`])', r"\\\1", value) + '"'


def export_literal(name: str, value: str) -> str:
    return f"export {name}={quote(value)}"


def export_expanding(name: str, value: str) -> str:
    return f"export {name}={dquote(value)}"
