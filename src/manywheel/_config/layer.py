"""One source of option values (a TOML table, an override, the environment, the command
line), as read, before the values are converted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import env_name, flag_name

__all__ = ["Layer"]


@dataclass(frozen=True)
class Layer:
    """Raw values from one source, with the words used to name it in errors."""

    values: Mapping[str, Any]  # option name -> raw value
    where: str  # e.g. "pyproject.toml [tool.manywheel]"
    base_dir: Path  # relative paths resolve against it
    style: str  # "file", "env" or "cli": how a key is named in messages
    notes: tuple[str, ...] = ()  # what the user should know about this source
    default_images: tuple[tuple[str, str], ...] = ()  # see Options.default_images
    # How a value joins the one below it (option name -> none, append, prepend).
    inherit: Mapping[str, str] = field(default_factory=dict)
    select: tuple[str, ...] | None = None  # an override: the identifiers it applies to
    names: Mapping[str, str] = field(default_factory=dict)  # how the source names a key

    def key_name(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        if self.style == "env":
            return env_name(name)
        if self.style == "cli":
            return flag_name(name)
        return name
