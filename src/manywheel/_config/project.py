"""What manywheel needs to know about the project being built."""

from __future__ import annotations

import ast
import configparser
import contextlib
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


def _setup_cfg_requires(path: Path) -> str | None:
    config = configparser.ConfigParser()
    with contextlib.suppress(OSError, configparser.Error):
        config.read(path / "setup.cfg")
        value = config.get("options", "python_requires", fallback=None)
        return value.strip() if value else None
    return None


def _setup_py_requires(path: Path) -> str | None:
    """``python_requires="..."`` given as a literal to a top-level ``setup(...)`` call (as
    cibuildwheel reads it; nothing of setup.py is run)."""
    try:
        tree = ast.parse((path / "setup.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup"
        ):
            for kw in node.keywords:
                if kw.arg == "python_requires" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def read_project(path: Path) -> Project:
    """The project's name and requires-python: from ``[project]``, else (as cibuildwheel
    reads it) ``setup.cfg``'s ``python_requires``, else setup.py's ``setup(python_requires=)``."""
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file() and not (path / "setup.py").is_file():
        raise ConfigError(
            f"{path} is not a Python project (no pyproject.toml or setup.py)",
            tip="run manywheel in the project folder or pass it: manywheel build PATH",
        )
    meta = read_toml(pyproject).get("project", {}) if pyproject.is_file() else {}
    raw = meta.get("requires-python")
    where = f"{pyproject}: [project] requires-python"
    if raw is None:
        raw, where = _setup_cfg_requires(path), f"{path / 'setup.cfg'}: python_requires"
    if raw is None:
        raw, where = _setup_py_requires(path), f"{path / 'setup.py'}: python_requires"
    spec: SpecifierSet | None = None
    if raw is not None:
        try:
            spec = SpecifierSet(str(raw))
        except InvalidSpecifier:
            raise ConfigError(
                f"{where} = {raw!r} is not a valid specifier", tip="write it like '>=3.10'"
            ) from None
    name = meta.get("name")
    return Project(path, str(name) if name else None, spec)
