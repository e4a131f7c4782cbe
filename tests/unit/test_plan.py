from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from manywheel import ConfigError, EngineError, NothingToBuildError, Options
from manywheel import _plan as plan_module
from manywheel._config.project import Project
from manywheel._events import Emitter, Event
from manywheel._model import BuildImage
from manywheel._plan import DISCOVER_SCRIPT, discover, parse_facts, select_targets
from tests.unit.fake_exec import CannedEngine

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
    return [
        t.identifier
        for t in select_targets(options, project, (BuildImage("img", "id", facts()),), emitter)
    ]


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


def test_parse_facts_without_opt_python_and_odd_lines() -> None:
    f = parse_facts(
        "platform musllinux_aarch64\n"
        "pkgmgr \n"
        "interpreter /usr/bin/python3.12 cpython 3.12.3 0\n"
        "interpreter /usr/local/bin/python3.12 cpython 3.12.9 0\n"  # the first one wins
        "interpreter /usr/bin/python3.13t cpython 3.13.1 1\n"
        "interpreter /usr/bin/pypy3.10 pypy 3.10.14 0\n"
        "interpreter broken\n"
        "python /opt/python/cp311-cp311 cpython 3.11.1\n"  # a field missing
        "python /opt/python/graalpy cpython 3.11.1 0\n"  # not a cpXY folder
        "garbage line\n"
    )
    assert (f.platform, f.auditwheel_plat, f.package_manager, f.shell) == (
        "musllinux_aarch64",
        "",
        None,
        "sh",
    )
    assert [(t.identifier, t.python) for t in f.interpreters] == [
        ("cp312-musllinux_aarch64", "/usr/bin/python3.12"),
        ("cp313t-musllinux_aarch64", "/usr/bin/python3.13t"),
    ]
    assert f.interpreters[1].minor == "3.13t"
    assert f.interpreters[1].python_tag == "cp313"


def test_an_image_without_cpython() -> None:
    empty = parse_facts("platform manylinux_x86_64\n")
    project = Project(Path("/p"), "p", None)
    with pytest.raises(NothingToBuildError, match="image img:1 has no CPython"):
        select_targets(
            Options(Path("/p")), project, (BuildImage("img:1", "id", empty),), Emitter(None)
        )
    # (A machine without CPython is refused by discover_host: tests/unit/test_container_cli.py.)


def test_requires_python_alone_drops_targets_silently() -> None:
    events: list[Event] = []
    assert select(Options(Path("/p")), "<3.13", events) == ["cp312-manylinux_x86_64"]
    assert events == []  # only versions asked for by 'python' are worth a warning


def test_discover_asks_the_image_once_per_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_module.platformdirs, "user_cache_path", lambda app: tmp_path / app)
    engine = CannedEngine({"exec -i": (0, FACTS_OUTPUT, "")})
    first = discover(engine, "img:1", "sha256:1", "manywheel-r-discover", {"l": "v"})
    assert first == facts()
    assert engine.containers_made == ["img:1 as manywheel-r-discover"]
    assert engine.given[0].input == DISCOVER_SCRIPT.encode()
    # Images are immutable: the same id is answered from the cache, another id is asked.
    again = CannedEngine()
    assert discover(again, "img:1", "sha256:1", "n", {}) == first
    assert again.calls == []
    assert discover(CannedEngine({"exec -i": (0, "platform x_y\n", "")}), "img:2", "sha256:2",
                    "n", {}).platform == "x_y"  # fmt: skip
    # A damaged cache entry is asked again, not trusted.
    for entry in (tmp_path / "manywheel" / "facts").iterdir():
        entry.write_text('{"platform": 1}')
    assert discover(engine, "img:1", "sha256:1", "n", {}) == first
    assert len(engine.containers_made) == 2


def test_discover_failure_names_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module.platformdirs, "user_cache_path", lambda app: tmp_path / app)
    engine = CannedEngine({"exec -i": (126, "", "exec failed: no /bin/sh\n")})
    with pytest.raises(
        EngineError, match=r"could not inspect image img:1: exec failed: no /bin/sh$"
    ):
        discover(engine, "img:1", "sha256:1", "n", {})
    assert not (tmp_path / "manywheel" / "facts").exists()  # a failure is not remembered
