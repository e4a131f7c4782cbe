"""Dependency groups (PEP 735): the requirements a project's ``[dependency-groups]`` name,
for ``test-groups``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from .toml import read_toml

__all__ = ["group_requirements", "resolve_groups"]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve_groups(
    table: Mapping[str, Any], groups: tuple[str, ...], where: str
) -> tuple[str, ...]:
    """The requirements of ``groups`` in a ``[dependency-groups]`` table, with the groups
    they include (``{include-group = "name"}``), in order. ConfigError for a group that is
    missing, an include cycle, or an entry that is neither."""
    by_name: dict[str, object] = {}
    for name, entries in table.items():
        if _normalize(name) in by_name:
            raise ConfigError(f"{where}: [dependency-groups] has '{name}' twice (normalized)")
        by_name[_normalize(name)] = entries

    def expand(name: str, seen: tuple[str, ...]) -> list[str]:
        key = _normalize(name)
        if key in seen:
            cycle = " -> ".join((*seen, key))
            raise ConfigError(f"{where}: [dependency-groups] include cycle: {cycle}")
        if key not in by_name:
            have = ", ".join(table) or "none"
            raise ConfigError(
                f"{where}: test-groups names '{name}', which [dependency-groups] does not have",
                tip=f"its groups: {have}",
            )
        entries = by_name[key]
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: [dependency-groups] '{name}' must be a list")
        out: list[str] = []
        for entry in entries:
            if isinstance(entry, str):
                out.append(entry)
            elif isinstance(entry, Mapping) and isinstance(entry.get("include-group"), str):
                out += expand(entry["include-group"], (*seen, key))
            else:
                raise ConfigError(
                    f"{where}: [dependency-groups] '{name}' has {entry!r}, neither a requirement "
                    "nor an include-group"
                )
        return out

    found: list[str] = []
    for group in groups:
        found += expand(group, ())
    return tuple(dict.fromkeys(found))


def group_requirements(project_dir: Path, groups: tuple[str, ...]) -> tuple[str, ...]:
    """The requirements of ``groups`` in the project's pyproject.toml."""
    if not groups:
        return ()
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(
            f"test-groups {', '.join(groups)}: the project has no pyproject.toml to read "
            "[dependency-groups] from"
        )
    table = read_toml(pyproject).get("dependency-groups")
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{pyproject}: test-groups names {', '.join(groups)}, but there is no "
            "[dependency-groups] table",
            tip="add the groups (PEP 735), or list the packages in test-requires",
        )
    return resolve_groups(table, groups, str(pyproject))
