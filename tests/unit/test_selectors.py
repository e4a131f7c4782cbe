"""Selectors with braces, enable groups, pre-releases and the other interpreters of an image."""

from __future__ import annotations

from pathlib import Path

import bracex
import pytest
from packaging.specifiers import SpecifierSet

from manywheel import ConfigError, NothingToBuildError, Options, load_options
from manywheel._cli import main as cli_main
from manywheel._config.project import Project, read_project
from manywheel._config.selectors import (
    ENABLE_GROUPS,
    expand_braces,
    group_of,
    parse_enable,
    selector_matches,
)
from manywheel._events import Emitter, Event
from manywheel._model import BuildImage, Target
from manywheel._output import check_wheel
from manywheel._plan import parse_facts, platform_wanted, select_targets
from tests.unit.fakes import wheel_bytes

BRACES = [
    "cp{311,312,313,313t,314,314t}-* pp311-*",
    "*-manylinux_{x86_64,i686}",
    "cp3{10..13}-*",
    "a{b,c{d,e}}f",
    "{a}",
    "a{,b}c",
    "x{1..10..3}",
    "{05..10}",
    "{a..e}",
    "{z..a..2}",
    "{10..1}",
    "a{b",
    "a}b{c,d}",
    "a{b{c,d}",
    "{a,b}{c,d}",
    "cp3{8,9,1{0,1}}-*",
    "{}",
    "a{1..x}b",
    "*-*linux_{aarch64,ppc64le,s390x,armv7l}",
]


@pytest.mark.parametrize("pattern", BRACES)
def test_braces_expand_as_cibuildwheel_expands_them(pattern: str) -> None:
    for word in pattern.split():
        assert expand_braces(word) == bracex.expand(word)


def test_selector_matches_any_glob_of_any_item() -> None:
    build = ["cp{311,312,313,313t,314,314t}-* pp311-*"]
    assert selector_matches(build, "cp313t-manylinux_x86_64")
    assert selector_matches(build, "pp311-manylinux_aarch64")
    assert not selector_matches(build, "cp310-manylinux_x86_64")
    assert selector_matches(["cp310-*", "*-musllinux_{x86_64,i686}"], "cp39-musllinux_i686")
    assert not selector_matches([], "cp313-manylinux_x86_64")
    assert selector_matches([r"cp31\{3,4\}*"], "cp31{3,4}-x")  # escaped braces stay literal
    assert not selector_matches(["CP313-*"], "cp313-manylinux_x86_64")  # case-sensitive


@pytest.mark.parametrize(
    ("identifier", "prerelease", "group"),
    [
        ("cp313-manylinux_x86_64", False, None),
        ("cp316-manylinux_x86_64", True, "cpython-prerelease"),
        ("cp316t-manylinux_x86_64", True, "cpython-prerelease"),
        ("cp314t-manylinux_x86_64", False, None),
        ("cp313t-manylinux_x86_64", False, "cpython-freethreading"),
        ("pp310-manylinux_x86_64", False, "pypy-eol"),
        ("pp39-manylinux_x86_64", False, "pypy-eol"),
        ("pp311-manylinux_x86_64", False, "pypy"),
        ("gp313_253-manylinux_x86_64", False, "graalpy"),
        ("nonsense", False, None),
    ],
)
def test_the_group_an_interpreter_needs(identifier: str, prerelease: bool, group: str) -> None:
    assert group_of(identifier, prerelease=prerelease) == group


def test_parse_enable() -> None:
    assert parse_enable(["pypy", "graalpy"]) == (frozenset({"pypy", "graalpy"}), ())
    assert parse_enable(["all"])[0] == frozenset(ENABLE_GROUPS)
    assert parse_enable(["cpython-freethreading", "pypy", "cpython-freethreading"]) == (
        frozenset({"pypy"}),
        ("cpython-freethreading",),
    )
    with pytest.raises(ValueError, match="cpython-nogil"):
        parse_enable(["cpython-nogil"])


FACTS = """\
platform manylinux_x86_64
auditwheel_plat manylinux_2_34_x86_64
pkgmgr dnf
shell bash
python /opt/python/cp312-cp312 cpython 3.12.9 0 final 3.12
python /opt/python/cp313-cp313 cpython 3.13.2 0 final 3.13
python /opt/python/cp313-cp313t cpython 3.13.2 1 final 3.13
python /opt/python/cp314-cp314 cpython 3.14.0 0 candidate 3.14
python /opt/python/cp314-cp314t cpython 3.14.0 1 candidate 3.14
python /opt/python/cp315-cp315 cpython 3.15.0 0 beta 3.15
python /opt/python/pp310-pypy310_pp73 pypy 3.10.16 0 final 7.3
python /opt/python/pp311-pypy311_pp73 pypy 3.11.13 0 final 7.3
python /opt/python/graalpy313-graalpy253_313_native graalpy 3.13.0 0 final 25.3
"""
IMAGE = BuildImage("img:1", "sha256:1", parse_facts(FACTS))


def test_discovery_reads_the_release_level_and_other_implementations() -> None:
    found = {t.identifier: t for t in IMAGE.facts.interpreters}
    assert list(found) == [
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
        "cp313t-manylinux_x86_64",
        "cp314-manylinux_x86_64",
        "cp314t-manylinux_x86_64",
        "cp315-manylinux_x86_64",
        "pp310-manylinux_x86_64",
        "pp311-manylinux_x86_64",
        "gp313_253-manylinux_x86_64",
    ]
    assert found["cp315-manylinux_x86_64"].prerelease
    assert not found["cp314-manylinux_x86_64"].prerelease  # a release candidate is ABI-stable
    graal = found["gp313_253-manylinux_x86_64"]
    assert (graal.implementation, graal.python_tag, graal.minor) == ("graalpy", "gp313_253", "3.13")


def run_select(
    requires: str | None = None, events: list[Event] | None = None, **changes: object
) -> list[str]:
    options = Options(Path("/p"), **changes)  # type: ignore[arg-type]
    project = Project(Path("/p"), "p", SpecifierSet(requires) if requires else None)
    emitter = Emitter(events.append if events is not None else None)
    return [t.identifier for t in select_targets(options, project, (IMAGE,), emitter)]


def test_prereleases_are_held_back_and_the_selection_says_so() -> None:
    events: list[Event] = []
    assert run_select(events=events) == [
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
        "cp314-manylinux_x86_64",
        "cp314t-manylinux_x86_64",
    ]
    assert [e.message for e in events] == [
        "cp315-manylinux_x86_64 not built: CPython 3.15.0 is a pre-release "
        '(enable = ["cpython-prerelease"] builds it)'
    ]


@pytest.mark.parametrize(
    ("changes", "selected"),
    [
        ({"enable": ("cpython-prerelease",), "build": ("cp315-*",)}, ["cp315-manylinux_x86_64"]),
        ({"python": ("3.15",)}, ["cp315-manylinux_x86_64"]),  # named: built whatever its group
        ({"python": ("3.13t",)}, ["cp313t-manylinux_x86_64"]),
        ({"enable": ("cpython-freethreading",), "build": ("cp313t-*",)}, None),  # retired
        ({"enable": ("pypy",), "build": ("pp*",)}, ["pp311-manylinux_x86_64"]),
        ({"enable": ("pypy-eol",), "build": ("pp*",)}, ["pp310-manylinux_x86_64"]),
        ({"enable": ("graalpy",), "build": ("gp*",)}, ["gp313_253-manylinux_x86_64"]),
        (
            {"enable": ("all",), "build": ("cp{313,315}-* pp311-*",)},
            ["cp313-manylinux_x86_64", "cp315-manylinux_x86_64", "pp311-manylinux_x86_64"],
        ),
        ({"build": ("cp3{12..13}-*",), "skip": ("*{t,2}-*",)}, ["cp313-manylinux_x86_64"]),
        ({"python": ("cp31{2,4}",)}, ["cp312-manylinux_x86_64", "cp314-manylinux_x86_64"]),
        ({"python": ("pp311",)}, ["pp311-manylinux_x86_64"]),
    ],
)
def test_groups_braces_and_python(changes: dict[str, object], selected: list[str] | None) -> None:
    if selected is None:
        with pytest.raises(NothingToBuildError) as info:
            run_select(**changes)
        assert "cibuildwheel 4 no longer builds it" in info.value.message
    else:
        assert run_select(**changes) == selected


def test_a_python_version_selects_cpython_only() -> None:
    with pytest.raises(ConfigError, match=r"it has 3\.12, 3\.13, 3\.13t, 3\.14, 3\.14t, 3\.15\)"):
        run_select(python=("3.11",))  # pp311 is no 3.11


def test_requires_python_is_read_as_cibuildwheel_reads_it() -> None:
    # X.Y.99: >=3.12.10 keeps CPython 3.12 (the image has 3.12.9).
    assert run_select(">=3.12.10,<3.14") == ["cp312-manylinux_x86_64", "cp313-manylinux_x86_64"]
    # requires-python (CIBW_PROJECT_REQUIRES_PYTHON) wins over the project's.
    assert run_select(">=3.12", requires_python=">=3.14") == [
        "cp314-manylinux_x86_64",
        "cp314t-manylinux_x86_64",
    ]


def test_a_platform_is_wanted_for_the_groups_enabled() -> None:
    pypy_only = Options(Path("/p"), build=("pp311-*",))
    assert not platform_wanted(pypy_only, "manylinux_aarch64")
    assert platform_wanted(Options(Path("/p"), build=("pp311-*",), enable=("pypy",)),
                           "manylinux_aarch64")  # fmt: skip
    assert platform_wanted(Options(Path("/p"), python=("pp311",)), "manylinux_x86_64")
    assert platform_wanted(Options(Path("/p"), build=("gp*",), enable=("graalpy",)),
                           "manylinux_x86_64")  # fmt: skip
    assert platform_wanted(Options(Path("/p"), build=("cp{310,311}-*",)), "musllinux_i686")
    assert not platform_wanted(Options(Path("/p"), skip=("*-musllinux_{i686,x86_64}",)),
                               "musllinux_i686")  # fmt: skip


def test_enable_adds_up_over_the_layers_and_retired_groups_warn(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.manywheel]\nenable = ["pypy", "cpython-freethreading"]\n'
    )
    options = load_options(
        tmp_path, environ={"MANYWHEEL_ENABLE": "graalpy"}, cli={"enable": "cpython-prerelease"}
    )
    assert options.enable == ("pypy", "cpython-freethreading", "graalpy", "cpython-prerelease")
    (note,) = options.notes
    assert note.endswith(
        "[tool.manywheel]: enable group 'cpython-freethreading' is retired and ignored: "
        "cibuildwheel 4 builds free-threaded CPython 3.14 and later by default and no longer "
        "builds 3.13t"
    )


def test_an_unknown_group_or_specifier_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'enable' has unknown group 'pypi'") as info:
        load_options(tmp_path, environ={}, cli={"enable": "pypi"})
    assert "cpython-prerelease, pypy" in (info.value.tip or "")
    with pytest.raises(ConfigError, match=r"'requires-python' is '3\.12', not a version"):
        load_options(tmp_path, environ={"MANYWHEEL_REQUIRES_PYTHON": "3.12"})


def _wheel(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(wheel_bytes(name))
    return path


def test_wheels_fit_pypy_graalpy_and_abi3_targets(tmp_path: Path) -> None:
    pypy = Target("pp311-manylinux_x86_64", "3.11.13", False, "", implementation="pypy")
    graal = Target("gp313_253-manylinux_x86_64", "3.13.0", False, "", implementation="graalpy")
    ft = Target("cp314t-manylinux_x86_64", "3.14.0", True, "")
    cp = Target("cp314-manylinux_x86_64", "3.14.0", False, "")
    good = [
        (pypy, "demo-1.0-pp311-pypy311_pp73-manylinux_2_17_x86_64.whl"),
        (graal, "demo-1.0-graalpy313-graalpy250_313_native-manylinux_2_17_x86_64.whl"),
        (cp, "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"),
        (ft, "demo-1.0-cp314-cp314t-manylinux_2_17_x86_64.whl"),
        (pypy, "demo-1.0-py3-none-manylinux_2_17_x86_64.whl"),
    ]
    for target, name in good:
        assert not isinstance(check_wheel(_wheel(tmp_path, name), target, repaired=True), str)
    bad = [
        (pypy, "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        (ft, "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"),  # no abi3 without the GIL
        (cp, "demo-1.0-pp311-pypy311_pp73-manylinux_2_17_x86_64.whl"),
    ]
    for target, name in bad:
        assert isinstance(check_wheel(_wheel(tmp_path, name), target, repaired=True), str)


def test_requires_python_is_read_where_cibuildwheel_reads_it(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='x', python_requires='>=3.13')\n"
    )
    assert str(read_project(tmp_path).requires_python) == ">=3.13"
    (tmp_path / "setup.cfg").write_text("[options]\npython_requires = >=3.12\n")
    assert str(read_project(tmp_path).requires_python) == ">=3.12"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.14"\n')
    assert str(read_project(tmp_path).requires_python) == ">=3.14"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "setup.cfg").write_text("[options]\npython_requires = 3.12\n")
    with pytest.raises(ConfigError, match=r"setup\.cfg: python_requires = '3\.12' is not a valid"):
        read_project(tmp_path)
    (tmp_path / "setup.cfg").unlink()
    (tmp_path / "setup.py").write_text("setup(python_requires=VERSION)\n")  # not a literal
    assert read_project(tmp_path).requires_python is None


def test_only_takes_any_interpreter_identifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    seen: list[Options] = []
    monkeypatch.setattr(cli_main, "plan", lambda options, listener: seen.append(options))
    monkeypatch.setattr(cli_main, "_print_plan", lambda options, listener, fmt: 0)
    for only in ("pp311-manylinux_x86_64", "gp313_253-musllinux_aarch64", "cp313t-manylinux_i686"):
        assert cli_main.main(["plan", str(tmp_path), "--only", only]) == 0
