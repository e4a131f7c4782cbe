"""Every key cibuildwheel documents for Linux (its own schema and defaults, from the installed
cibuildwheel 4.3.5) is honoured, or named in one warning with the reason, or (a key of other
platforms) accepted and explained in the README; none is dropped silently. The same for its
variables, and the README's table names each one."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from manywheel import load_options
from manywheel._config.cibuildwheel import (
    CIBW_IMAGES,
    CIBW_KEYS,
    NOT_FOR_LINUX,
    PLATFORM_TABLES,
    PYPY_IMAGES,
    translate_table,
)
from manywheel._config.cibw_env import CIBW_SPECIAL, cibw_variable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CIBW = resources.files("cibuildwheel") / "resources"
SCHEMA = json.loads((CIBW / "cibuildwheel.schema.json").read_text())
DEFAULTS = tomllib.loads((CIBW / "defaults.toml").read_text())["tool"]["cibuildwheel"]
KEYS = sorted(set(SCHEMA["properties"]) - set(PLATFORM_TABLES) - {"inherit", "overrides"})
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TABLE = README[README.index("### Coming from cibuildwheel") :].split("\n\n| cibuildwheel")[1]
TABLE = TABLE[: TABLE.index("\n\n")]

# A value of each key that differs from the default (what a project would set), in TOML and
# in the string form of its variable.
SAMPLES: dict[str, tuple[Any, str]] = {
    "build": (["cp313-*"], "cp313-*"),
    "skip": (["*-musllinux_*"], "*-musllinux_*"),
    "test-skip": ("*-*linux_{aarch64,ppc64le}", "*-*linux_{aarch64,ppc64le}"),
    "enable": (["pypy"], "pypy"),
    "archs": (["x86_64", "i686"], "x86_64,i686"),
    "audit-requires": (["abi3audit==0.0.20"], "abi3audit==0.0.20"),
    "audit-command": (["abi3audit {abi3_wheel}"], "abi3audit {abi3_wheel}"),
    "build-frontend": ({"name": "pip", "args": ["-v"]}, "pip; args: -v"),
    "config-settings": ({"setup-args": ["-Da=1", "-Db=2"]}, "setup-args=-Da=1"),
    "dependency-versions": ("latest", "latest"),
    "environment": ({"CFLAGS": "-O2"}, "CFLAGS=-O2"),
    "environment-pass": (["BUILD_TIME"], "BUILD_TIME"),
    "build-verbosity": (1, "1"),
    "before-all": (["yum install -y zlib-devel", "make -C lib"], "make -C {package}/lib"),
    "before-build": ("pip install cython", "pip install cython"),
    "xbuild-tools": (["cmake"], "cmake"),
    "xbuild-files": ({"numpy": ["x.h"]}, "numpy: x.h"),
    "repair-wheel-command": ("auditwheel repair -w {dest_dir} {wheel}", "auditwheel show {wheel}"),
    "test-command": (["pytest {project}/tests", "python -c 1"], "pytest {project}/tests"),
    "before-test": ("pip install cmake", "pip install cmake"),
    "test-sources": (["tests"], "tests"),
    "test-requires": (["pytest"], "pytest 'numpy; python_version < \"3.15\"'"),
    "test-extras": (["test", "qt"], "test,qt"),
    "test-groups": (["dev"], "dev"),
    "test-environment": ({"PYTHONSAFEPATH": "1"}, "PYTHONSAFEPATH=1"),
    "test-runtime": ({"args": ["--managed"]}, "args: --managed"),
    "container-engine": ({"name": "podman", "create-args": ["--cpus", "2"]}, "podman; create_args: --cpus 2"),
    "pyodide-version": ("0.28.0", "0.28.0"),
    **{key: ("manylinux_2_34", "manylinux_2_34") for key in CIBW_IMAGES if key.startswith("many")},
    **{key: ("musllinux_1_2", "musllinux_1_2") for key in CIBW_IMAGES if key.startswith("musl")},
    **{key: ("manylinux_2_28", "manylinux_2_28") for key in PYPY_IMAGES},
}  # fmt: skip


def test_the_schema_and_the_samples_know_the_same_keys() -> None:
    assert set(KEYS) == set(CIBW_KEYS)  # a key cibuildwheel adds fails here first
    assert set(SAMPLES) == set(KEYS)


def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n[dependency-groups]\ndev = ["pytest"]\n'
    )
    return tmp_path


def _defaults(key: str) -> list[Any]:
    linux = DEFAULTS.get("linux", {})
    return [linux[key]] if key in linux else [DEFAULTS[key]] if key in DEFAULTS else []


@pytest.mark.parametrize("key", KEYS)
def test_every_documented_key_is_honoured_or_named(key: str, tmp_path: Path) -> None:
    toml_value, variable_value = SAMPLES[key]
    for value in [toml_value, *_defaults(key)]:
        found = translate_table({key: value})
        if key in NOT_FOR_LINUX:  # another platform's: accepted, the README says why
            assert (found.values, found.ignored) == ({}, []), key
        elif key in PYPY_IMAGES:  # the image of the same arch's CPython key
            assert found.values == {}
            assert found.ignored == []  # the same image as cibuildwheel's default for CPython
            other = translate_table({key: "manylinux2014"})
            assert other.ignored[0].startswith(f"{key} = 'manylinux2014' (PyPy targets build in")
        elif value not in ("", []):
            assert found.values, key  # honoured: it sets manywheel options
            assert found.ignored == [], key
    # The variable too (with its Linux variant where cibuildwheel has one), and no warning.
    folder = project(tmp_path)
    for name in (cibw_variable(key), cibw_variable(key, linux=True)):
        options = load_options(folder, environ={name: variable_value})
        if key == "build-frontend" and name.endswith("_LINUX"):
            assert options.build_frontend == "build"  # cibuildwheel has no such variant
        assert not [n for n in options.notes if "ignored" in n], (name, options.notes)
    assert (
        f"`{key}`" in TABLE
        or (key in CIBW_IMAGES and "`manylinux-<arch>-image`" in TABLE)
        or (key in PYPY_IMAGES and "`manylinux-pypy_<arch>-image`" in TABLE)
    ), f"the README's table does not name {key}"


@pytest.mark.parametrize("variable", sorted(CIBW_SPECIAL))
def test_every_other_variable_is_in_the_readme(variable: str) -> None:
    assert variable in TABLE, variable


@pytest.mark.parametrize(
    "flag",
    ["--platform", "--archs", "--only", "--output-dir", "--config-file", "--print-build-identifiers",
     "--allow-empty", "--enable", "--debug-traceback", "--clean-cache"],
)  # fmt: skip
def test_every_command_line_flag_is_in_the_readme(flag: str) -> None:
    assert flag in TABLE, flag
