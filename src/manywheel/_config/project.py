"""What manywheel needs to know about the project being built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .._errors import ConfigError
from .options import read_toml

__all__ = ["Project", "read_project"]


@dataclass(frozen=True)
class Project:
    path: Path
    name: str | None
    requires_python: SpecifierSet | None


def read_project(path: Path) -> Project:
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        if not (path / "setup.py").is_file():
            raise ConfigError(
                f"{path} is not a Python project (no pyproject.toml or setup.py)",
                tip="run manywheel in the project folder or pass it: manywheel build PATH",
            )
        return Project(path, None, None)
    meta = read_toml(pyproject).get("project", {})
    spec: SpecifierSet | None = None
    raw = meta.get("requires-python")
    if raw is not None:
        try:
            spec = SpecifierSet(str(raw))
        except InvalidSpecifier:
            raise ConfigError(
                f"{pyproject}: [project] requires-python = {raw!r} is not a valid specifier",
                tip="write it like '>=3.10'",
            ) from None
    name = meta.get("name")
    return Project(path, str(name) if name else None, spec)
