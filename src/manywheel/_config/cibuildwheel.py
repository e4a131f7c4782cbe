"""Read a project's [tool.cibuildwheel] (Linux keys) as manywheel options, saying what is ignored."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Translation", "to_toml", "translate"]

_IMAGE_SHORT = re.compile(r"^(manylinux(?:1|2010|2014|_2_\d+)|musllinux_1_\d)$")
# The cibuildwheel keys that mean nothing on Linux, or that manywheel does its own way.
_NOT_LINUX = {"macos", "windows", "ios", "pyodide", "archs", "platform", "output-dir"}


@dataclass
class Translation:
    """manywheel option values taken from cibuildwheel keys, and the keys left out (with why)."""

    values: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _image(value: str) -> str:
    if _IMAGE_SHORT.match(value):
        return f"quay.io/pypa/{value}_x86_64"
    return value


def _engine(value: str, out: Translation) -> None:
    name, _, rest = value.partition(";")
    out.values["engine"] = name.strip()
    match = re.search(r"create_args:\s*(.*)$", rest)
    if match:
        out.values["engine-args"] = shlex.split(match.group(1))


def _frontend(value: str, out: Translation) -> None:
    name = value.split(";", maxsplit=1)[0].strip()
    if name in ("build", "build[uv]"):
        return  # manywheel's default frontend
    if name == "pip":
        out.values["build-command"] = 'python -m pip wheel --no-deps -w "$MANYWHEEL_WHEEL_DIR" .'
        return
    out.ignored.append(f"build-frontend = {value!r} (not supported; python -m build is used)")


def _text(value: object) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value)


def _environment(value: object) -> dict[str, str] | str:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return str(value)


def translate(table: Mapping[str, Any]) -> Translation:
    """Map ``[tool.cibuildwheel]`` with its ``linux`` sub-table merged over it."""
    merged = {k: v for k, v in table.items() if k != "linux"}
    linux = table.get("linux", {})
    if isinstance(linux, Mapping):
        merged.update(linux)
    out = Translation()
    simple = {
        "build": "build", "skip": "skip", "test-skip": "test-skip",
        "test-requires": "test-requires", "test-command": "test-command",
        "repair-wheel-command": "repair-command",
    }  # fmt: skip
    for key, value in merged.items():
        if key in simple:
            out.values[simple[key]] = _text(value) if key.endswith("command") else value
        elif key == "environment":
            out.values["environment"] = _environment(value)
        elif key == "before-all":
            out.values["setup-script"] = _text(value)
        elif key == "before-build":
            out.values["before-build"] = _text(value)
        elif key == "manylinux-x86_64-image":
            out.values["image"] = _image(str(value))
        elif key == "container-engine":
            _engine(str(value), out)
        elif key == "build-frontend":
            _frontend(str(value), out)
        elif key in _NOT_LINUX:
            out.ignored.append(f"{key} (not used for Linux builds)")
        else:
            out.ignored.append(f"{key} (no manywheel equivalent)")
    return out


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if "\n" in value:
            return '"""\n' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""'
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
            + " }"
        )
    return json.dumps(value)


def to_toml(values: Mapping[str, Any]) -> str:
    """A ``[tool.manywheel]`` table with these values."""
    lines = ["[tool.manywheel]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"
