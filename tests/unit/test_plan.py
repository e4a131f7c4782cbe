from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from manywheel import ConfigError, EngineError, NothingToBuildError, Options
from manywheel import _plan as plan_module
from manywheel._builders import discovery
from manywheel._config.matrix import ImageSpec
from manywheel._config.project import Project
from manywheel._engines.process import ExecResult
from manywheel._events import Emitter, Event
from manywheel._model import BuildImage, Target
from manywheel._plan import (
    DISCOVER_SCRIPT,
    check_platform,
    discover,
    parse_facts,
    place_targets,
    platform_wanted,
    select_targets,
)
from tests.unit.fake_exec import CannedEngine
from tests.unit.test_builders import DOCKER_DOWN, DOCKER_INFO

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
        "pp311-manylinux_x86_64",
    ]
    assert f.interpreters[2].free_threaded
    assert f.interpreters[2].python == "/opt/python/cp313-cp313t/bin/python"
    pypy = f.interpreters[4]
    assert (pypy.implementation, pypy.python_tag, pypy.minor) == ("pypy", "pp311", "3.11")
    assert pypy.python == "/opt/python/pp311-pypy311_pp73/bin/python"


def test_default_selects_cpython_as_cibuildwheel_4_does() -> None:
    # Not 3.13t (cibuildwheel 4 dropped it), not PyPy (a group to enable).
    assert select(Options(Path("/p"))) == [
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
        "cp314-manylinux_x86_64",
    ]


def test_requires_python_filters() -> None:
    assert select(Options(Path("/p")), ">=3.13") == [
        "cp313-manylinux_x86_64",
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
    with pytest.raises(NothingToBuildError, match="image img:1 has no Python under /opt/python"):
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


# -- a matrix of images ----------------------------------------------------------------------

MUSL_OUTPUT = """\
platform musllinux_x86_64
auditwheel_plat musllinux_1_2_x86_64
pkgmgr apk
shell sh
python /opt/python/cp313-cp313 cpython 3.13.1 0
python /opt/python/cp314-cp314 cpython 3.14.0 0
"""
I686_OUTPUT = """\
platform manylinux_i686
auditwheel_plat manylinux_2_34_i686
pkgmgr dnf
shell bash
python /opt/python/cp313-cp313 cpython 3.13.1 0
python /opt/python/cp314-cp314 cpython 3.14.0 0
"""
AARCH64_OUTPUT = """\
platform manylinux_aarch64
auditwheel_plat manylinux_2_28_aarch64
pkgmgr dnf
shell bash
python /opt/python/cp313-cp313 cpython 3.13.1 0
python /opt/python/cp313-cp313t cpython 3.13.1 1
"""
X86 = BuildImage("x86:1", "sha256:x", parse_facts(FACTS_OUTPUT), "x86_64", "image")
I686 = BuildImage("i686:1", "sha256:i", parse_facts(I686_OUTPUT), "i686", "manylinux-i686-image")
ARM = BuildImage("arm:1", "sha256:a", parse_facts(AARCH64_OUTPUT), "aarch64",
                 "manylinux-aarch64-image")  # fmt: skip
MUSL = BuildImage("musl:1", "sha256:m", parse_facts(MUSL_OUTPUT), "x86_64",
                  "musllinux-x86_64-image")  # fmt: skip
MATRIX = (X86, I686, ARM, MUSL)


def select_in(images: tuple[BuildImage, ...], **changes: object) -> list[str]:
    options = Options(Path("/p"), **changes)  # type: ignore[arg-type]
    project = Project(Path("/p"), "p", None)
    return [t.identifier for t in select_targets(options, project, images, Emitter(None))]


@pytest.mark.parametrize(
    ("output", "said", "identifiers"),
    [
        (MUSL_OUTPUT, ("musllinux_x86_64", "musllinux_1_2_x86_64", "apk", "sh"),
         ["cp313-musllinux_x86_64", "cp314-musllinux_x86_64"]),
        (I686_OUTPUT, ("manylinux_i686", "manylinux_2_34_i686", "dnf", "bash"),
         ["cp313-manylinux_i686", "cp314-manylinux_i686"]),
        (AARCH64_OUTPUT, ("manylinux_aarch64", "manylinux_2_28_aarch64", "dnf", "bash"),
         ["cp313-manylinux_aarch64", "cp313t-manylinux_aarch64"]),
    ],
)  # fmt: skip
def test_parse_facts_of_other_platforms(
    output: str, said: tuple[str, str, str, str], identifiers: list[str]
) -> None:
    f = parse_facts(output)
    assert (f.platform, f.auditwheel_plat, f.package_manager, f.shell) == said
    platform = said[0]
    assert [t.identifier for t in f.interpreters] == identifiers
    libc, arch = platform.split("_", 1)
    for t in f.interpreters:
        assert (t.platform, t.libc, t.arch) == (platform, libc, arch)
        assert t.python.startswith("/opt/python/cp31")


def test_targets_of_several_images_carry_their_image_and_platform() -> None:
    options = Options(Path("/p"))
    project = Project(Path("/p"), "p", None)
    targets = select_targets(options, project, MATRIX, Emitter(None))
    assert [(t.identifier, t.image, t.platform) for t in targets] == [
        ("cp312-manylinux_x86_64", "x86:1", "manylinux_x86_64"),
        ("cp313-manylinux_x86_64", "x86:1", "manylinux_x86_64"),
        ("cp314-manylinux_x86_64", "x86:1", "manylinux_x86_64"),
        ("cp313-manylinux_i686", "i686:1", "manylinux_i686"),
        ("cp314-manylinux_i686", "i686:1", "manylinux_i686"),
        ("cp313-manylinux_aarch64", "arm:1", "manylinux_aarch64"),
        ("cp313-musllinux_x86_64", "musl:1", "musllinux_x86_64"),
        ("cp314-musllinux_x86_64", "musl:1", "musllinux_x86_64"),
    ]
    assert len({t.identifier for t in targets}) == len(targets)
    assert targets[6].python == "/opt/python/cp313-cp313/bin/python"
    assert {t.arch for t in targets} == {"x86_64", "i686", "aarch64"}


@pytest.mark.parametrize(
    ("changes", "selected"),
    [
        ({"build": ("*-manylinux_aarch64",)}, ["cp313-manylinux_aarch64"]),
        ({"build": ("cp313-*",)},
         ["cp313-manylinux_x86_64", "cp313-manylinux_i686", "cp313-manylinux_aarch64",
          "cp313-musllinux_x86_64"]),
        ({"build": ("cp314-*",), "skip": ("*-musllinux_*",)},
         ["cp314-manylinux_x86_64", "cp314-manylinux_i686"]),
        ({"build": ("cp313-manylinux_i686",)}, ["cp313-manylinux_i686"]),  # --only
        ({"build": ("*_x86_64",), "skip": ("*t-*", "cp312-*")},
         ["cp313-manylinux_x86_64", "cp314-manylinux_x86_64", "cp313-musllinux_x86_64",
          "cp314-musllinux_x86_64"]),
        # A Python only one image has is fine.
        ({"python": ("3.12",)}, ["cp312-manylinux_x86_64"]),
        ({"python": ("3.13t",)}, ["cp313t-manylinux_x86_64", "cp313t-manylinux_aarch64"]),
        ({"python": ("3.14",), "skip": ("*-manylinux_x86_64",)},
         ["cp314-manylinux_i686", "cp314-musllinux_x86_64"]),
    ],
)  # fmt: skip
def test_build_skip_and_python_select_across_the_matrix(
    changes: dict[str, object], selected: list[str]
) -> None:
    assert select_in(MATRIX, **changes) == selected


def test_a_python_no_image_has_is_an_error_naming_what_they_have() -> None:
    with pytest.raises(ConfigError) as info:
        select_in(MATRIX, python=("3.9", "3.12"))
    assert info.value.message == (
        "'python': 3.9 not found in any image (it has 3.12, 3.13, 3.13t, 3.14)"
    )
    with pytest.raises(ConfigError) as info:
        select_in((ARM,), python=("3.14",))
    assert info.value.message == "'python': 3.14 not found in arm:1 (it has 3.13, 3.13t)"


def test_nothing_selected_across_the_matrix_lists_every_target() -> None:
    with pytest.raises(NothingToBuildError) as info:
        select_in((I686, ARM), build=("*-musllinux_*",))
    assert info.value.message == (
        "no target selected: cp313-manylinux_i686, cp314-manylinux_i686, "
        "cp313-manylinux_aarch64, cp313t-manylinux_aarch64 all excluded"
    )


def test_an_image_of_the_matrix_without_cpython_is_named() -> None:
    empty = BuildImage("empty:1", "sha256:e", parse_facts("platform manylinux_aarch64\n"),
                       "aarch64", "manylinux-aarch64-image")  # fmt: skip
    with pytest.raises(NothingToBuildError, match="image empty:1 has no Python under"):
        select_in((X86, empty))


def _x86(image: str, plat: str, policy: str | None, key: str = "manylinux-x86_64-image"):  # type: ignore[no-untyped-def]
    facts = parse_facts(FACTS_OUTPUT.replace("manylinux_2_34_x86_64", plat))
    return BuildImage(image, "sha256:" + image, facts, "x86_64", key, policy)


def test_two_images_of_one_platform_are_told_apart_by_their_policy() -> None:
    old = _x86("old:1", "", "manylinux2014")  # the policy its short name gave
    new = _x86("new:1", "manylinux_2_28_x86_64", None)  # the policy its AUDITWHEEL_PLAT says
    targets = select_targets(
        Options(Path("/p"), python=("3.13",)), Project(Path("/p"), "p", None),
        (old, new, I686), Emitter(None),
    )  # fmt: skip
    assert [(t.identifier, t.image, t.platform) for t in targets] == [
        ("cp313-manylinux2014_x86_64", "old:1", "manylinux_x86_64"),
        ("cp313-manylinux_2_28_x86_64", "new:1", "manylinux_x86_64"),
        ("cp313-manylinux_i686", "i686:1", "manylinux_i686"),  # alone on its platform
    ]
    assert select_in((old, new), build=("*-manylinux_2_28_*",), python=("3.12",)) == [
        "cp312-manylinux_2_28_x86_64"
    ]


def test_two_images_of_one_platform_need_a_policy_each() -> None:
    with pytest.raises(ConfigError) as info:
        select_in((_x86("a:1", "manylinux_2_28_x86_64", None), _x86("b:1", "", None)))
    assert info.value.message == (
        "'manylinux-x86_64-image': several manylinux_x86_64 images, and b:1 says no policy "
        "(no AUDITWHEEL_PLAT in it, not named by a short name like manylinux_2_28)"
    )
    assert "short name" in (info.value.tip or "")
    # One image without a policy is fine: nothing to tell apart.
    assert select_in((_x86("b:1", "", None),), python=("3.13",)) == ["cp313-manylinux_x86_64"]


def test_two_images_of_the_same_policy_clash() -> None:
    a = _x86("a:1", "manylinux_2_28_x86_64", None)
    b = _x86("b:1", "", "manylinux_2_28")
    with pytest.raises(ConfigError) as info:
        select_in((a, b))
    assert info.value.message == (
        "'manylinux-x86_64-image': two manylinux_x86_64 images of the same policy (a:1, b:1); "
        "their identifiers would clash"
    )
    assert info.value.tip == "keep one image per policy and platform"


def test_check_platform_compares_the_image_with_its_key() -> None:
    spec = ImageSpec("arm:1", "manylinux-aarch64-image", "manylinux", "aarch64")
    check_platform(spec, parse_facts(AARCH64_OUTPUT))  # as said
    with pytest.raises(ConfigError) as info:
        check_platform(spec, parse_facts(FACTS_OUTPUT))
    assert info.value.message == (
        "'manylinux-aarch64-image' is arm:1, but that image is manylinux_x86_64 "
        "(uname -m and its C library, run as aarch64)"
    )
    assert info.value.tip == "name a manylinux_aarch64 image for manylinux-aarch64-image"
    musl = ImageSpec("m:1", "musllinux-x86_64-image", "musllinux", "x86_64")
    with pytest.raises(ConfigError, match="that image is manylinux_x86_64"):
        check_platform(musl, parse_facts(FACTS_OUTPUT))  # a glibc image for musllinux
    check_platform(ImageSpec("any:1", "image"), parse_facts(MUSL_OUTPUT))  # single image: its own


@pytest.mark.parametrize(
    ("changes", "label", "wanted"),
    [
        ({}, "musllinux_x86_64", True),
        ({"skip": ("*-musllinux_*",)}, "musllinux_x86_64", False),
        ({"skip": ("*-musllinux_*",)}, "manylinux_x86_64", True),
        ({"build": ("cp313-*",)}, "musllinux_x86_64", True),
        ({"build": ("cp313-*",)}, "manylinux_aarch64", True),
        ({"build": ("*-manylinux_aarch64",)}, "manylinux_i686", False),
        ({"build": ("*-manylinux_aarch64",)}, "manylinux_aarch64", True),
        ({"python": ("3.13",)}, "musllinux_x86_64", True),
        ({"python": ("3.13",), "skip": ("cp313-*",)}, "manylinux_x86_64", False),
        ({"python": ("3.13t",), "skip": ("*t-*",)}, "manylinux_x86_64", False),
        ({"build": ("cp314t-*",)}, "manylinux_aarch64", True),  # free-threaded identifiers
        ({"build": ("cp313-manylinux_i686",)}, "manylinux_i686", True),  # --only
        ({"build": ("cp313-manylinux_i686",)}, "manylinux_x86_64", False),
        ({"python": ("cp313-manylinux_i686",)}, "manylinux_i686", True),
        ({"python": ("cp313-manylinux_i686",)}, "musllinux_i686", False),
        ({"build": ("*-manylinux_2_28_x86_64",)}, "manylinux_2_28_x86_64", True),
    ],
)
def test_platform_wanted(changes: dict[str, object], label: str, wanted: bool) -> None:
    options = Options(Path("/p"), **changes)  # type: ignore[arg-type]
    assert platform_wanted(options, label) is wanted


def test_discover_runs_the_image_as_its_arch_and_remembers_per_arch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_module.platformdirs, "user_cache_path", lambda app: tmp_path / app)
    seen: list[str | None] = []

    class Recording(CannedEngine):
        def container(self, image: str, name: str, **kw: object):  # type: ignore[no-untyped-def,override]
            seen.append(kw.get("arch"))  # type: ignore[arg-type]
            return super().container(image, name, **kw)  # type: ignore[arg-type]

    engine = Recording({"exec -i": (0, AARCH64_OUTPUT, "")})
    facts = discover(engine, "arm:1", "sha256:a", "n", {}, arch="aarch64")
    assert facts.platform == "manylinux_aarch64"
    assert discover(engine, "arm:1", "sha256:a", "n", {}, arch="aarch64") == facts
    assert seen == ["aarch64"]  # asked once for that arch
    discover(engine, "arm:1", "sha256:a", "n", {})  # the same id run as its own: asked again
    assert seen == ["aarch64", None]


# -- several builders ----------------------------------------------------------------------


def _info(arch: str, cpus: int) -> str:
    return json.dumps({**DOCKER_INFO, "Architecture": arch, "NCPU": cpus})


def test_one_builder_asks_no_engine_and_places_nothing(tmp_path: Path) -> None:
    """Without builders (or with local alone) every run is as before: nothing is asked."""

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        raise AssertionError(f"asked {argv}")

    targets = (Target("cp313-manylinux_x86_64", "3.13.9", False, "/p"),)
    for builders in ((), ("local",), ("docker:arm-box",)):
        options = Options(tmp_path, builders=builders)
        assert place_targets(options, targets, runner=runner, environ={}) is None
    two = Options(tmp_path, builders=("local", "docker:arm-box"))
    assert place_targets(two, (), runner=runner, environ={}) is None  # allow-empty: no target


def test_several_builders_are_asked_what_they_are_and_given_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "emulation_problem", lambda arch, **kw: "no QEMU here")
    calls: list[list[str]] = []

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        calls.append(list(argv))
        arm = "--context" in argv
        return ExecResult(0, _info("aarch64" if arm else "x86_64", 8 if arm else 2), "")

    x86 = Target("cp313-manylinux_x86_64", "3.13.9", False, "/p", "manylinux_x86_64")
    x86_2 = Target("cp314-manylinux_x86_64", "3.14.1", False, "/p", "manylinux_x86_64")
    arm = Target("cp313-manylinux_aarch64", "3.13.9", False, "/p", "manylinux_aarch64")
    options = Options(tmp_path, builders=("local", "docker:arm-box"), engine="docker")
    options = replace(options, log_dir=tmp_path / "logs")
    placed = place_targets(options, (x86, arm, x86_2), runner=runner, environ={})
    assert placed is not None
    assert sorted(calls) == [
        ["docker", "--context", "arm-box", "info", "--format", "{{json .}}"],
        ["docker", "info", "--format", "{{json .}}"],
    ]
    assert [(s.name, s.targets, s.cpus) for s in placed.shares] == [
        ("local", (x86.identifier, x86_2.identifier), 2),
        ("arm-box", (arm.identifier,), 8),
    ]
    # A builder that does not answer is left out, as a build leaves it out; when none
    # answers, the plan stops, naming the first.
    down = ExecResult(1, json.dumps(DOCKER_DOWN), "")
    placed = place_targets(
        options,
        (x86, x86_2),
        runner=lambda argv, env: down if "--context" in argv else runner(argv, env),
        environ={},
    )
    assert placed is not None
    assert [(s.name, s.targets) for s in placed.shares] == [
        ("local", (x86.identifier, x86_2.identifier))
    ]
    with pytest.raises(EngineError, match=r"builder local \(local\) does not answer"):
        place_targets(options, (x86, arm), runner=lambda argv, env: down, environ={})
