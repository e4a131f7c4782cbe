"""Read a cibuildwheel configuration as manywheel options: ``[tool.cibuildwheel]`` with its
``linux`` table, ``inherit`` rules and ``[[tool.cibuildwheel.overrides]]``, and (``cibw_env``)
the ``CIBW_*`` variables. Values are taken in cibuildwheel's formats (TOML values, or the
strings its variables hold: ``"pip; args: --no-build-isolation"``) and given back as manywheel
option values, each key either honoured or named with the reason it is not.

The layers, weakest first: cibuildwheel's defaults, ``[tool.cibuildwheel]``,
``[tool.cibuildwheel.linux]``, each override whose ``select`` matches a target; then (in
``cibw_env``) ``CIBW_<KEY>`` and ``CIBW_<KEY>_LINUX``.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._arch import ARCHS, LIBCS
from .layer import Layer
from .registry import image_key

__all__ = [
    "CIBW_KEYS",
    "NOT_FOR_LINUX",
    "Translation",
    "cibuildwheel_layers",
    "parse_inherit",
    "to_toml",
    "translate",
    "translate_table",
]

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
PYPY_IMAGES = {
    f"manylinux-pypy_{a}-image": f"manylinux-{a}-image" for a in ("x86_64", "i686", "aarch64")
}
CIBW_AUDIT_COMMAND = "abi3audit --strict --report {abi3_wheel}"

# Keys of cibuildwheel 4 that mean something for other platforms only; accepted, and nothing
# to do on Linux (named in the README's table).
NOT_FOR_LINUX = {
    "xbuild-tools": "tools for iOS and Android cross builds",
    "xbuild-files": "files for iOS and Android cross builds",
    "pyodide-version": "the Pyodide platform",
    "test-runtime": "the Android and iOS test runners",
    "dependency-versions": "on Linux, cibuildwheel pins with it only the virtualenv that makes "
    "its test venvs; manywheel makes them with the interpreter's venv",
}
PLATFORM_TABLES = ("linux", "macos", "windows", "ios", "android", "pyodide")
# What each option of cibuildwheel becomes here (its manywheel option, where one option maps
# to one); the others are translated by hand below.
_SAME = {
    "build": "build", "skip": "skip", "test-skip": "test-skip", "enable": "enable",
    "archs": "archs", "environment": "environment", "environment-pass": "environment-pass",
    "before-all": "setup-script", "before-build": "before-build", "before-test": "before-test",
    "repair-wheel-command": "repair-command", "test-command": "test-command",
    "test-requires": "test-requires", "test-extras": "test-extras",
    "test-groups": "test-groups", "test-sources": "test-sources",
    "test-environment": "test-environment", "config-settings": "config-settings",
    "build-verbosity": "build-verbosity", "audit-command": "audit-command",
    "audit-requires": "audit-requires",
}  # fmt: skip
CIBW_KEYS = frozenset(
    {*_SAME, *CIBW_IMAGES, *PYPY_IMAGES, *NOT_FOR_LINUX, "build-frontend", "container-engine"}
)


@dataclass
class Translation:
    """manywheel option values taken from cibuildwheel keys, and the keys left out (with why)."""

    values: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    # The images of the platforms whose key the table does not set (cibuildwheel's defaults):
    # weaker than every layer's `image`, unlike a key the project sets.
    default_images: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # manywheel option -> cibuildwheel key
    warnings: list[str] = field(default_factory=list)  # honoured, but may not mean the same

    def notes(self, where: str) -> list[str]:
        """What a layer read from ``where`` says about these keys."""
        return [f"{where}: ignored {item}" for item in self.ignored] + [
            f"{where}: {item}" for item in self.warnings
        ]


# cibuildwheel mounts the host's root at /host in its containers (unless disable-host-mount);
# manywheel never does, so a command or variable that reads from it finds nothing.
_HOST_PATH = re.compile(r"(?<![\w.$/-])/host(?=/|\b|$)")
_MAY_NAME_PATHS = (
    "before-all", "before-build", "before-test", "test-command", "repair-wheel-command",
    "environment", "test-environment",
)  # fmt: skip


HOST_MOUNT_WARNING = (
    "names /host, where cibuildwheel mounts the host's root folder; manywheel never mounts it "
    "(a build cannot read the host): put what it needs in the project, or pass it with "
    "environment-pass"
)


def _names_host(key: str, value: object) -> bool:
    text = value if isinstance(value, str) else json.dumps(value)
    return key in _MAY_NAME_PATHS and _HOST_PATH.search(text) is not None


# -- cibuildwheel's string formats -------------------------------------------------------------


def _fields(text: str) -> list[list[str]]:
    """``"docker; create_args: --gpus all"`` -> ``[["docker"], ["create_args:", "--gpus", "all"]]``."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";")
    lexer.commenters = ""
    lexer.whitespace_split = True
    words = list(lexer)
    return [list(g) for semi, g in itertools.groupby(words, lambda w: w == ";") if not semi]


def parse_key_values(
    text: str, positional: tuple[str, ...], keywords: tuple[str, ...]
) -> dict[str, list[str]]:
    """cibuildwheel's ``name; key: value value; key2: value`` strings, as a dict of lists."""
    out: dict[str, list[str]] = {}
    for i, words in enumerate(_fields(text)):
        name, sep, first = words[0].partition(":")
        if sep:
            if name not in keywords:
                raise ValueError(f"unknown field {name!r} in {text!r}")
            values = ([first] if first else []) + words[1:]
        else:
            if i >= len(positional):
                raise ValueError(f"too many fields in {text!r}")
            name, values = positional[i], words
        out.setdefault(name, []).extend(values)
    return out


def parse_inherit(value: object) -> dict[str, str]:
    """An ``inherit`` table, or its string form (``"test-command: append; environment"``, a
    key alone meaning append), as key -> rule. ValueError for anything else."""
    if isinstance(value, Mapping):
        rules = {str(k): v for k, v in value.items()}
    elif isinstance(value, str):
        rules = {}
        for words in _fields(value):
            name, sep, first = words[0].partition(":")
            if sep:
                values = ([first] if first else []) + words[1:]
                if len(values) != 1:
                    raise ValueError(f"'{name}' must have exactly one rule")
                rules[name] = values[0]
            else:
                rules.update(dict.fromkeys(words, "append"))
    else:
        raise ValueError("'inherit' must be a table or a string")
    for name, rule in rules.items():
        if rule not in ("none", "append", "prepend"):
            raise ValueError(f"'{name}' inherits by {rule!r}, not none, append or prepend")
    return rules


# -- one key at a time ------------------------------------------------------------------------


def _command(value: object) -> str:
    """A command or a list of them (joined with && as cibuildwheel joins them)."""
    if isinstance(value, list):
        return " && ".join(str(v) for v in value)
    return str(value)


def _words(split: Callable[[str], list[str]]) -> Callable[[object], list[str]]:
    def convert(value: object) -> list[str]:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [w for w in split(str(value)) if w]

    return convert


_BY_SPACE = _words(str.split)
_SHELL_WORDS = _words(shlex.split)
_CONVERT: dict[str, Callable[[object], object]] = {
    "build": _BY_SPACE, "skip": _BY_SPACE, "test-skip": _BY_SPACE, "enable": _BY_SPACE,
    "archs": _words(lambda s: re.split(r"[\s,]+", s)),
    "environment-pass": _BY_SPACE, "test-groups": _BY_SPACE,
    "test-requires": _SHELL_WORDS, "test-sources": _SHELL_WORDS, "audit-requires": _SHELL_WORDS,
    "test-extras": _words(lambda s: s.split(",")),
    "audit-command": _words(lambda s: s.split(" && ")),
    "before-all": _command, "before-build": _command, "before-test": _command,
    "repair-wheel-command": _command, "test-command": _command,
}  # fmt: skip


def _same(value: object) -> object:
    return value


def _environment(value: object) -> dict[str, str] | str:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return str(value)


def _settings(value: object) -> list[str] | str:
    """config-settings: a table (a list value repeats the key) or ``k=v k2=v2``."""
    if isinstance(value, Mapping):
        pairs = []
        for k, v in value.items():
            for item in v if isinstance(v, list) else [v]:
                pairs.append(f"{k}={item}")
        return pairs
    return str(value)


def _table_or_fields(
    value: object, positional: tuple[str, ...], keywords: tuple[str, ...]
) -> dict[str, list[str]]:
    if isinstance(value, Mapping):
        out: dict[str, list[str]] = {}
        for k, v in value.items():
            out[str(k)] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
        return out
    return parse_key_values(str(value), positional, keywords)


def _frontend(value: object, out: Translation) -> None:
    found = _table_or_fields(value, ("name",), ("args",))
    name = " ".join(found.get("name", ["build"])) or "build"
    if name == "default":
        name = "build"
    if name not in ("build", "build[uv]", "pip", "uv"):
        raise ValueError(f"unknown build frontend {name!r} (build, build[uv], pip or uv)")
    out.values["build-frontend"] = name
    out.values["build-frontend-args"] = found.get("args", [])


def _engine(value: object, out: Translation) -> None:
    keywords = ("create_args", "create-args", "disable_host_mount", "disable-host-mount")
    found = _table_or_fields(value, ("name",), keywords)
    name = " ".join(found.get("name", ["docker"]))
    if name not in ("docker", "podman"):
        raise ValueError(f"unknown container engine {name!r} (docker or podman)")
    out.values["engine"] = name
    args = found.get("create_args") or found.get("create-args") or []
    if isinstance(value, Mapping):  # a TOML list of arguments, or one string of them
        raw = value.get("create-args", value.get("create_args", []))
        args = shlex.split(raw) if isinstance(raw, str) else [str(a) for a in raw]
    out.values["engine-args"] = args
    # disable-host-mount: manywheel never mounts the host's root (see the security model), so
    # both values build the same; the option is accepted as it is.


def _put(key: str, value: object, out: Translation, table: Mapping[str, Any]) -> None:
    """Translate one key of a table (``table``: the whole of it, for keys that look at others)."""
    if key == "archs" and not _CONVERT["archs"](value):
        return  # empty: the layer below decides, as cibuildwheel reads archs (ignore_empty)
    if key in _SAME:
        name = _SAME[key]
        if key in ("environment", "test-environment"):
            converted: object = _environment(value)
        elif key == "config-settings":
            converted = _settings(value)
        elif key == "build-verbosity":
            converted = max(-3, min(3, int(str(value) or 0)))
        else:
            converted = _CONVERT.get(key, _same)(value)
        if key == "build" and not converted:
            converted = ["*"]  # cibuildwheel: an empty build selects everything
        out.values[name] = converted
        out.names[name] = key
    elif key in CIBW_IMAGES:
        if str(value):  # empty: cibuildwheel's default image
            out.values[key] = str(value)
            out.names[key] = key
    elif key in PYPY_IMAGES:
        cpython = PYPY_IMAGES[key]
        if str(value) not in ("", str(table.get(cpython, CIBW_IMAGES[cpython]))):
            out.ignored.append(
                f"{key} = {value!r} (PyPy targets build in the image of {cpython}, which has "
                "them; set that key to build them elsewhere)"
            )
    elif key == "build-frontend":
        _frontend(value, out)
        out.names["build-frontend"] = out.names["build-frontend-args"] = key
    elif key == "container-engine":
        _engine(value, out)
        out.names["engine"] = out.names["engine-args"] = key
    elif key in NOT_FOR_LINUX:
        pass  # see NOT_FOR_LINUX
    else:
        close = difflib.get_close_matches(key, sorted(CIBW_KEYS), n=1, cutoff=0.7)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        out.ignored.append(f"{key} (not a cibuildwheel option{hint})")


def translate_table(
    table: Mapping[str, Any],
    where: str = "[tool.cibuildwheel]",
    names: Mapping[str, str] | None = None,
) -> Translation:
    """One table of cibuildwheel keys (no platform tables, no overrides) as manywheel values.
    ValueError (naming the key, or as ``names`` calls it) for a value cibuildwheel would
    refuse."""
    out = Translation()
    for key, value in table.items():
        if key in PLATFORM_TABLES or key in ("inherit", "overrides"):
            continue
        try:
            _put(key, value, out, table)
            if _names_host(key, value):
                out.warnings.append(f"{(names or {}).get(key, key)} {HOST_MOUNT_WARNING}")
        except (ValueError, TypeError) as e:
            shown = (names or {}).get(key, key)
            raise ValueError(f"{where}: '{shown}' = {value!r}: {e}") from None
    return out


# -- a whole [tool.cibuildwheel] ----------------------------------------------------------------

_INHERIT_NAMES = {
    "before-all": "setup-script",
    "repair-wheel-command": "repair-command",
}
_MERGEABLE = {
    "audit-command", "audit-requires", "before-all", "before-build", "before-test",
    "config-settings", "environment", "environment-pass", "xbuild-tools", "repair-wheel-command",
    "test-command", "test-extras", "test-sources", "test-groups", "test-requires",
    "test-environment",
}  # fmt: skip


def inherit_rules(rules: Mapping[str, str], where: str) -> dict[str, str]:
    """cibuildwheel ``inherit`` rules as manywheel ones (by manywheel option)."""
    out = {}
    for key, rule in rules.items():
        if key not in _MERGEABLE:
            raise ValueError(f"{where}: 'inherit' names '{key}', which cannot inherit")
        if key != "xbuild-tools":
            out[_INHERIT_NAMES.get(key, key)] = rule
    return out


def _defaults() -> Translation:
    """cibuildwheel's own defaults, where they differ from manywheel's."""
    out = Translation()
    out.values = {
        "archs": list(CIBW_ARCHS),
        "libc": list(LIBCS),
        "audit-command": [CIBW_AUDIT_COMMAND],
        "audit-requires": ["abi3audit"],
        "output-dir": "wheelhouse",  # in the current folder, where a CI job uploads it from
    }
    out.default_images = dict(CIBW_IMAGES)
    return out


def _layer(found: Translation, where: str, base: Path, **extra: Any) -> Layer:
    return Layer(
        found.values,
        where,
        base,
        "file",
        tuple(found.notes(where)),
        tuple(found.default_images.items()),
        names=found.names,
        **extra,
    )


_RUN_SELECTION = ("build", "skip", "test-skip", "enable")


def _run_wide(key: str) -> str | None:
    """Why an override cannot set ``key`` (a manywheel option), or None if it can."""
    if key in CIBW_IMAGES or key in ("archs", "engine"):
        return "one engine for the run; images are chosen per platform"
    if key in _RUN_SELECTION:  # cibuildwheel, too, selects once per run, without overrides
        return "the selection is made once for the run, as in cibuildwheel; set it in [tool.cibuildwheel]"
    return None


def cibuildwheel_layers(table: Mapping[str, Any] | None, where: str, base: Path) -> list[Layer]:
    """The layers of a ``[tool.cibuildwheel]`` (None: there is none, but CIBW_* variables
    configure the build), cibuildwheel's defaults first. ValueError names what is wrong."""
    layers = [_layer(_defaults(), "cibuildwheel's defaults", Path.cwd())]
    if table is None:
        return layers
    linux = table.get("linux", {})
    if not isinstance(linux, Mapping):
        raise ValueError(f"{where}: 'linux' must be a table")
    for sub, name in ((table, where), (linux, f"{where[:-1]}.linux]")):
        rules = inherit_rules(parse_inherit(sub.get("inherit", {})), name)
        layers.append(_layer(translate_table(sub, name), name, base, inherit=rules))
    overrides = table.get("overrides", [])
    if not isinstance(overrides, list):
        raise ValueError(f"{where}: 'overrides' must be a list of tables")
    for i, item in enumerate(overrides):
        name = f"{where[:-1]}.overrides] #{i + 1}"
        if not isinstance(item, Mapping):
            raise ValueError(f"{name}: an override must be a table")
        select = item.get("select")
        if isinstance(select, list) and all(isinstance(s, str) for s in select):
            select = " ".join(select)
        if not isinstance(select, str) or not select.strip():
            raise ValueError(f"{name}: 'select' must be set (a string or a list of strings)")
        keys = {k: v for k, v in item.items() if k not in ("select", "inherit")}
        found = translate_table(keys, name)
        for key in list(found.values):
            reason = _run_wide(key)
            if reason is not None:
                found.values.pop(key)
                found.ignored.append(f"{key} in an override ({reason})")
        rules = inherit_rules(parse_inherit(item.get("inherit", {})), name)
        layers.append(_layer(found, name, base, inherit=rules, select=(select,)))
    return layers


def translate(table: Mapping[str, Any]) -> Translation:
    """``[tool.cibuildwheel]`` with its ``linux`` table over it, as one manywheel table (for
    ``init``; overrides are given by ``overrides_of``)."""
    linux = table.get("linux", {})
    merged = dict(table)
    rules = parse_inherit(linux.get("inherit", {})) if isinstance(linux, Mapping) else {}
    if isinstance(linux, Mapping):
        for key, value in linux.items():
            if key != "inherit" and key in merged and rules.get(key, "none") != "none":
                first, second = (merged[key], value)
                if rules[key] == "prepend":
                    first, second = second, first
                merged[key] = _joined(key, first, second)
            else:
                merged[key] = value
    out = _defaults()
    found = translate_table(merged)
    out.values.update(found.values)
    out.ignored += found.ignored
    out.warnings += found.warnings
    out.names = found.names
    out.default_images = {k: v for k, v in CIBW_IMAGES.items() if k not in out.values}
    return out


def _env_string(value: object) -> str:
    if isinstance(value, Mapping):
        return " ".join(f'{k}="{v}"' for k, v in value.items())
    return str(value)


def _joined(key: str, first: object, second: object) -> object:
    """Two cibuildwheel values of a key joined as its ``inherit = append`` joins them."""
    if key in ("environment", "test-environment"):
        return " ".join(_env_string(v) for v in (first, second) if _env_string(v))
    if key == "config-settings":
        pairs: dict[str, list[str]] = {}
        for value in (first, second):
            words = _settings(value)
            found: dict[str, list[str]] = {}
            for word in words if isinstance(words, list) else shlex.split(words):
                k, _, v = word.partition("=")
                found.setdefault(k, []).append(v)
            pairs.update(found)
        return [f"{k}={v}" for k, vs in pairs.items() for v in vs]
    convert = _CONVERT.get(key, _same)
    parts = [convert(first), convert(second)]
    return [item for part in parts for item in (part if isinstance(part, list) else [part])]


def overrides_of(table: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """``[[tool.cibuildwheel.overrides]]`` as ``[[tool.manywheel.overrides]]`` tables, and
    what of them is not carried over (each naming its override)."""
    out: list[dict[str, Any]] = []
    left_out: list[str] = []
    for layer in cibuildwheel_layers(table, "[tool.cibuildwheel]", Path())[3:]:
        entry: dict[str, Any] = {"select": layer.select[0] if layer.select else ""}
        if layer.inherit:
            entry["inherit"] = dict(layer.inherit)
        entry.update(layer.values)
        out.append(entry)
        left_out += layer.notes
    return out, left_out


# -- init --from-cibuildwheel -------------------------------------------------------------------


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


def to_toml(values: Mapping[str, Any], overrides: list[dict[str, Any]] | None = None) -> str:
    """A ``[tool.manywheel]`` table with these values (and its overrides)."""
    lines = ["[tool.manywheel]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    for entry in overrides or []:
        lines += ["", "[[tool.manywheel.overrides]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"
