"""Differential: for each configuration (TOML and CIBW_* variables, overrides, enable groups,
archs, build/skip globs), ``manywheel plan --format json`` selects exactly the identifiers
``cibuildwheel --print-build-identifiers`` (4.3.5, run for real) prints for Linux, restricted to
the interpreters the images have. The images are the in-memory engine's, each with every
interpreter a manylinux/musllinux image of its platform has (PyPy and GraalPy included)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from manywheel import _run
from manywheel._arch import ARCHS
from manywheel._cli.main import main
from manywheel._config.cibuildwheel import CIBW_IMAGES
from manywheel._engines import choice
from tests.unit.fakes import FakeEngine

CPYTHONS = [(9, ""), (10, ""), (11, ""), (12, ""), (13, ""), (13, "t"), (14, ""), (14, "t"),
            (15, ""), (15, "t")]  # fmt: skip


def facts(libc: str, arch: str) -> str:
    """What discovery says in a manylinux (or musllinux) image of cibuildwheel 4's era."""
    lines = [f"platform {libc}_{arch}", f"auditwheel_plat {libc}_2_28_{arch}", "pkgmgr dnf",
             "shell bash"]  # fmt: skip
    for minor, t in CPYTHONS:
        ft = "1" if t else "0"
        lines.append(
            f"python /opt/python/cp3{minor}-cp3{minor}{t} cpython 3.{minor}.1 {ft} final 3.{minor}"
        )
    if libc == "manylinux" and arch in ("x86_64", "aarch64", "i686"):
        lines += [
            "python /opt/python/pp310-pypy310_pp73 pypy 3.10.16 0 final 7.3",
            "python /opt/python/pp311-pypy311_pp73 pypy 3.11.13 0 final 7.3",
        ]
    if libc == "manylinux" and arch in ("x86_64", "aarch64"):
        lines += [
            "python /opt/python/graalpy312-graalpy250_312_native graalpy 3.12.8 0 final 25.0",
            "python /opt/python/graalpy313-graalpy253_313_native graalpy 3.13.0 0 final 25.3",
        ]
    return "\n".join(lines) + "\n"


IMAGES = {
    f"quay.io/pypa/{CIBW_IMAGES[f'{libc}-{arch.name}-image']}_{arch.name}": facts(libc, arch.name)
    for libc in ("manylinux", "musllinux")
    for arch in ARCHS
}
IN_IMAGES = {
    f"{line.split()[1].rsplit('/', 1)[1]}"
    for text in IMAGES.values()
    for line in text.splitlines()
    if line.startswith("python ")
}

# (pyproject.toml's body after [project], CIBW_* variables)
CONFIGURATIONS = {
    "defaults": ("[tool.cibuildwheel]\n", {}),  # an empty table: cibuildwheel's defaults
    "braces-and-pypy": ('[tool.cibuildwheel]\nbuild = "cp{311,312,313,313t,314,314t}-* pp311-*"\n'
                        'enable = ["pypy"]\n', {}),
    "skip-and-archs": ('[tool.cibuildwheel]\nskip = ["*-musllinux_*", "cp39-*"]\n'
                       'archs = ["x86_64", "i686"]\n', {}),
    "variables-only": ("", {"CIBW_BUILD": "cp31?-*", "CIBW_SKIP": "*t-*"}),
    "enable-all": ('[tool.cibuildwheel]\nenable = ["all"]\n', {}),
    "pypy-and-eol": ('[tool.cibuildwheel]\nenable = ["pypy", "pypy-eol"]\nbuild = "pp*"\n', {}),
    "graalpy-aarch64": ('[tool.cibuildwheel]\nenable = ["graalpy"]\narchs = "auto64 aarch64"\n'
                        'skip = "*-musllinux_*"\n', {}),
    "requires-python": ('requires-python = ">=3.12"\n[tool.cibuildwheel]\n', {}),
    "variable-requires-python-and-linux-archs": (
        "[tool.cibuildwheel]\n",
        {"CIBW_PROJECT_REQUIRES_PYTHON": ">=3.11,<3.14", "CIBW_ARCHS_LINUX": "x86_64 i686"},
    ),
    "archs-all": ('[tool.cibuildwheel]\narchs = "all"\nbuild = "cp314-*"\n', {}),
    "overrides-and-musllinux": (
        '[tool.cibuildwheel]\nbuild = "*-musllinux_*"\ntest-skip = "*-musllinux_i686"\n'
        '[[tool.cibuildwheel.overrides]]\nselect = "cp313-*"\nbefore-build = "echo hi"\n', {}),
    "linux-table": ('[tool.cibuildwheel]\n[tool.cibuildwheel.linux]\nskip = "cp3{9,10}-*"\n'
                    'archs = ["auto32"]\n', {}),
    "enable-variable-adds": ('[tool.cibuildwheel]\nenable = ["pypy"]\n',
                             {"CIBW_ENABLE": "cpython-prerelease graalpy"}),
    "musllinux-only-foreign": ('[tool.cibuildwheel]\nskip = "*-manylinux_*"\n'
                               'archs = ["aarch64", "i686"]\n', {}),
    "empty-build-variable": ("[tool.cibuildwheel]\n", {"CIBW_BUILD": "", "CIBW_SKIP": "pp* cp39-*"}),
    "setup-py-requires": ("", {"CIBW_BUILD": "cp3{11..14}-manylinux_x86_64"}),
}  # fmt: skip


def cibuildwheel(project: Path, variables: dict[str, str]) -> set[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **variables}
    out = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", "linux",
         str(project)],
        capture_output=True, text=True, check=True, env=env, cwd=project,
    ).stdout  # fmt: skip
    return set(out.split())


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_manywheel_selects_what_cibuildwheel_selects(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body, variables = CONFIGURATIONS[name]
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n' + body)
    if name == "setup-py-requires":
        (project / "setup.py").write_text(
            "from setuptools import setup\nsetup(python_requires='>=3.12')\n"
        )
    expected = cibuildwheel(project, variables)
    assert expected, "cibuildwheel selects something in every configuration here"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(_run, "emulation_problem", lambda arch: None)
    for key in [k for k in os.environ if k.startswith(("CIBW_", "MANYWHEEL_"))]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    engine = FakeEngine(facts_by_image=IMAGES)
    monkeypatch.setattr(choice, "detect_engine", lambda _, registry=None: engine.attach(registry))
    assert main(["plan", str(project), "--engine", "docker", "--format", "json"]) == 0
    selected = {t["identifier"] for t in json.loads(capsys.readouterr().out)["targets"]}
    # Restricted to the interpreters the images have (no cp38, pp39 or cp316 in them).
    have = {i for i in expected if f"{i.split('-')[0]}" in {_tag(d) for d in IN_IMAGES}}
    assert selected == have, name


def _tag(folder: str) -> str:
    """The identifier tag of an interpreter folder: cp313-cp313t -> cp313t."""
    if folder.startswith("cp"):
        return folder.split("-", maxsplit=1)[0] + ("t" if folder.endswith("t") else "")
    if folder.startswith("pp"):
        return folder.split("-", maxsplit=1)[0]
    graal = folder.split("-")[1]  # graalpy253_313_native
    return f"gp{folder[7:10]}_{graal[7:10]}"


def test_there_are_at_least_twelve_configurations() -> None:
    assert len(CONFIGURATIONS) >= 12
