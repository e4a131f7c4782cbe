"""cibuildwheel's ``CIBW_*`` variables, read as two layers over ``[tool.cibuildwheel]``:
``CIBW_<KEY>``, then ``CIBW_<KEY>_LINUX`` (the Linux one wins, or joins it by ``CIBW_INHERIT``
rules written ``key-linux``). Read when the configuration comes from cibuildwheel (see
``options``); a ``[tool.manywheel]`` project is configured by ``MANYWHEEL_*`` variables instead,
and the ``CIBW_*`` ones it has are named in a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .cibuildwheel import CIBW_KEYS, inherit_rules, parse_inherit, translate_table
from .layer import Layer

__all__ = ["CIBW_SPECIAL", "cibw_env_layers", "cibw_variable", "cibw_variables"]

# Keys without a _LINUX variant (cibuildwheel reads them with env_plat=False).
_NO_PLATFORM_VARIANT = frozenset(
    {"build", "skip", "test-skip", "enable", "build-frontend", "pyodide-version"}
)
# Variables that are no key of a table, and what they are here.
CIBW_SPECIAL = {
    "CIBW_ALLOW_EMPTY": "allow-empty",
    "CIBW_OUTPUT_DIR": "output-dir",
    "CIBW_PROJECT_REQUIRES_PYTHON": "requires-python",
    "CIBW_INHERIT": "how CIBW_<KEY> values join the configuration's",
    "CIBW_PLATFORM": "linux or auto (manywheel builds Linux wheels)",
    "CIBW_DEBUG_TRACEBACK": "--debug",
    "CIBW_DEBUG_KEEP_CONTAINER": "not supported: containers are always removed",
    "CIBW_CACHE_PATH": "cibuildwheel's own cache; manywheel has cache-dir",
    "CIBW_CONTAINER_ENGINE": "engine and engine-args",
    "CIBW_FREE_THREADED_SUPPORT": "retired by cibuildwheel 3; named in a warning",
}


def cibw_variable(key: str, linux: bool = False) -> str:
    return "CIBW_" + key.upper().replace("-", "_") + ("_LINUX" if linux else "")


def cibw_variables(environ: Mapping[str, str]) -> list[str]:
    """The CIBW_* variables that configure a Linux build, of those set."""
    names = {cibw_variable(k) for k in CIBW_KEYS}
    names |= {cibw_variable(k, True) for k in CIBW_KEYS if k not in _NO_PLATFORM_VARIANT}
    names |= set(CIBW_SPECIAL) - {"CIBW_DEBUG_TRACEBACK", "CIBW_CACHE_PATH"}
    return sorted(n for n in names if n in environ)


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"y", "yes", "t", "true", "on", "1"}


def cibw_env_layers(environ: Mapping[str, str], cwd: Path) -> list[Layer]:
    """The layers of the CIBW_* variables set. ValueError names a variable cibuildwheel
    would refuse."""
    try:
        rules = parse_inherit(environ.get("CIBW_INHERIT", ""))
    except ValueError as e:
        raise ValueError(f"CIBW_INHERIT: {e}") from None
    others = ("-macos", "-windows", "-ios", "-android", "-pyodide")
    rules = {k: v for k, v in rules.items() if not k.endswith(others)}  # other platforms'
    general_rules = inherit_rules(
        {k: v for k, v in rules.items() if not k.endswith("-linux")}, "CIBW_INHERIT"
    )
    linux_rules = inherit_rules(
        {k.removesuffix("-linux"): v for k, v in rules.items() if k.endswith("-linux")},
        "CIBW_INHERIT",
    )
    layers = []
    for linux, own_rules in ((False, general_rules), (True, linux_rules)):
        found = {
            key: environ[cibw_variable(key, linux)]
            for key in sorted(CIBW_KEYS)
            if cibw_variable(key, linux) in environ and not (linux and key in _NO_PLATFORM_VARIANT)
        }
        names = {key: cibw_variable(key, linux) for key in found}
        where = "environment (CIBW_*_LINUX)" if linux else "environment (CIBW_*)"
        translated = translate_table(found, where, names)
        values = dict(translated.values)
        notes = translated.notes(where)
        shown = {opt: names[key] for opt, key in translated.names.items()}
        if not linux:
            special, more = _special(environ, shown)
            values.update(special)
            notes += more
        if not values and not notes:
            continue
        layers.append(
            Layer(
                values,
                where,
                cwd,
                "file",
                tuple(notes),
                inherit=own_rules,
                names=shown,
            )
        )
    return layers


def _special(
    environ: Mapping[str, str], names: dict[str, str]
) -> tuple[dict[str, object], list[str]]:
    """allow-empty, output-dir, requires-python from their variables; warnings for the
    variables that have no meaning here."""
    values: dict[str, object] = {}
    notes = []
    if "CIBW_ALLOW_EMPTY" in environ:
        values["allow-empty"] = _truthy(environ["CIBW_ALLOW_EMPTY"])
        names["allow-empty"] = "CIBW_ALLOW_EMPTY"
    if environ.get("CIBW_OUTPUT_DIR"):
        values["output-dir"] = environ["CIBW_OUTPUT_DIR"]
        names["output-dir"] = "CIBW_OUTPUT_DIR"
    if environ.get("CIBW_PROJECT_REQUIRES_PYTHON"):
        values["requires-python"] = environ["CIBW_PROJECT_REQUIRES_PYTHON"]
        names["requires-python"] = "CIBW_PROJECT_REQUIRES_PYTHON"
    platform = environ.get("CIBW_PLATFORM", "").strip()
    if platform not in ("", "auto", "linux"):
        notes.append(f"CIBW_PLATFORM={platform}: manywheel builds Linux wheels only; ignored")
    if "CIBW_FREE_THREADED_SUPPORT" in environ:
        notes.append(
            "CIBW_FREE_THREADED_SUPPORT: ignored (cibuildwheel no longer supports it and stops "
            "on it); free-threaded CPython 3.14 and later is built by default: select it with "
            "build/skip globs such as 'cp314t-*'"
        )
    if _truthy(environ.get("CIBW_DEBUG_KEEP_CONTAINER", "")):
        notes.append(
            "CIBW_DEBUG_KEEP_CONTAINER: ignored, manywheel always removes its containers "
            "(each target's full log is kept; `manywheel export docker` gives a build to debug)"
        )
    return values, notes
