from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from manywheel import ConfigError, NothingToBuildError, Options
from manywheel._config.project import Project
from manywheel._events import Emitter, Event
from manywheel._plan import parse_facts, select_targets

FACTS_OUTPUT = """\
platform manylinux_x86_64
auditwheel_plat manylinux_2_34_x86_64
pkgmgr dnf
shell bash
python /opt/python/cp313-cp313 cpython 3.13.9 0
python /opt/python/cp313-cp313t cpython 3.13.9 1
python /opt/python/cp312-cp312 cpython 3.12.12 0
python /opt/python/pp311-pypy311_pp73 pypy 3.11.13 0
python /opt/python/cp314-cp314 cpython 3.14.0 0
"""


def facts():  # type: ignore[no-untyped-def]
    return parse_facts(FACTS_OUTPUT)


def select(options: Options, requires: str | None = None, events: list[Event] | None = None):  # type: ignore[no-untyped-def]
    project = Project(Path("/p"), "p", SpecifierSet(requires) if requires else None)
    emitter = Emitter(events.append if events is not None else None)
    return [t.identifier for t in select_targets(options, project, facts(), "img", emitter)]


def test_parse_facts() -> None:
    f = facts()
    assert f.platform == "manylinux_x86_64"
    assert f.auditwheel_plat == "manylinux_2_34_x86_64"
    assert f.package_manager == "dnf"
    assert [t.identifier for t in f.interpreters] == [
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
        "cp313t-manylinux_x86_64",
        "cp314-manylinux_x86_64",
    ]
    assert f.interpreters[2].free_threaded
    assert f.interpreters[2].python == "/opt/python/cp313-cp313t/bin/python"


def test_default_selects_all_cpython() -> None:
    assert len(select(Options(Path("/p")))) == 4


def test_requires_python_filters() -> None:
    assert select(Options(Path("/p")), ">=3.13") == [
        "cp313-manylinux_x86_64",
        "cp313t-manylinux_x86_64",
        "cp314-manylinux_x86_64",
    ]


def test_version_and_identifier_selectors() -> None:
    assert select(Options(Path("/p"), python=("3.13",))) == ["cp313-manylinux_x86_64"]
    assert select(Options(Path("/p"), python=("3.13t", "cp314"))) == [
        "cp313t-manylinux_x86_64",
        "cp314-manylinux_x86_64",
    ]
    assert select(Options(Path("/p"), python=("cp312-manylinux_x86_64",))) == [
        "cp312-manylinux_x86_64"
    ]


def test_build_and_skip_globs() -> None:
    opts = Options(Path("/p"), build=("cp31[34]*",), skip=("*t-*",))
    assert select(opts) == ["cp313-manylinux_x86_64", "cp314-manylinux_x86_64"]


def test_unknown_version_is_config_error_naming_what_exists() -> None:
    with pytest.raises(ConfigError) as info:
        select(Options(Path("/p"), python=("3.9",)))
    assert "3.9" in info.value.message
    assert "3.12, 3.13, 3.13t, 3.14" in info.value.message


def test_selected_but_excluded_by_requires_python_warns() -> None:
    events: list[Event] = []
    assert select(Options(Path("/p"), python=("3.12", "3.14")), ">=3.13", events) == [
        "cp314-manylinux_x86_64"
    ]
    assert any(e.kind == "warning" and "cp312" in e.message for e in events)


def test_nothing_selected() -> None:
    with pytest.raises(NothingToBuildError) as info:
        select(Options(Path("/p"), skip=("*",)))
    assert info.value.exit_code == 3
