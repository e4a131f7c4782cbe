"""Read a project's [tool.cibuildwheel] (Linux keys) as manywheel options, saying what is ignored."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._arch import ARCHS, LIBCS
from .registry import image_key

__all__ = ["Translation", "to_toml", "translate"]

# The cibuildwheel keys that mean nothing on Linux, or that manywheel does its own way.
_NOT_LINUX = {"macos", "windows", "ios", "pyodide", "android", "platform", "output-dir"}
# cibuildwheel's defaults where manywheel's differ: its archs, both libcs (musllinux is built
# unless `skip` drops it), and its images (a short name each, as its defaults file has them).
CIBW_ARCHS = ("auto",)
CIBW_IMAGES = {
    image_key(libc, arch.name): (
        "musllinux_1_2"
        if libc == "musllinux"
        else {"armv7l": "manylinux_2_31", "riscv64": "manylinux_2_39"}.get(
            arch.name, "manylinux_2_28"
        )
    )
    for libc in LIBCS
    for arch in ARCHS
}


@dataclass
class Translation:
    """manywheel option values taken from cibuildwheel keys, and the keys left out (with why)."""

    values: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    # The images of the platforms whose key the table does not set (cibuildwheel's defaults):
    # weaker than every layer's `image`, unlike a key the project sets.
    default_images: dict[str, str] = field(default_factory=dict)


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
        elif key in CIBW_IMAGES:
            out.values[key] = str(value)
        elif key == "archs":
            out.values["archs"] = value
        elif re.fullmatch(r"manylinux-pypy_\w+-image", key):
            out.ignored.append(f"{key} (manywheel builds CPython; PyPy images are not used)")
        elif key == "container-engine":
            _engine(str(value), out)
        elif key == "build-frontend":
            _frontend(str(value), out)
        elif key in _NOT_LINUX:
            out.ignored.append(f"{key} (not used for Linux builds)")
        else:
            out.ignored.append(f"{key} (no manywheel equivalent)")
    out.values.setdefault("archs", list(CIBW_ARCHS))
    out.values["libc"] = list(LIBCS)
    out.default_images = {k: v for k, v in CIBW_IMAGES.items() if k not in out.values}
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
