"""Whole runs over a matrix of images (``_run.build`` and ``plan``) with the in-memory backend
of ``fakes``: each image discovered as its architecture, targets built in their own image,
foreign architectures checked before anything is pulled, targets started longest first."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from manywheel import _run
from manywheel._builders import discovery
from manywheel._cache import VOLUME_LABEL
from manywheel._engines import choice
from manywheel._engines.emulation import EMULATION_TIP, emulation_problem
from manywheel._engines.process import ExecResult
from manywheel._errors import ConfigError, EngineError, NothingToBuildError
from manywheel._events import BuildStarted
from manywheel._model import RunResult
from manywheel._prepare import PREPARED_REPO
from manywheel._report import REPORT_FORMAT, report_data
from manywheel._run import plan
from manywheel._venvcache import list_venvs
from tests.unit.fakes import FakeContainer, FakeEngine
from tests.unit.test_orchestration import World


def facts(
    platform: str, plat: str, pkgmgr: str = "dnf", minors: tuple[int, ...] = (12, 13, 14)
) -> str:
    lines = [f"platform {platform}", f"auditwheel_plat {plat}", f"pkgmgr {pkgmgr}", "shell bash"]
    lines += [f"python /opt/python/cp3{m}-cp3{m} cpython 3.{m}.1 0" for m in minors]
    return "\n".join(lines) + "\n"


X86, I686, ARM, MUSL = "x86:1", "i686:1", "arm:1", "musl:1"
DISCOVERY = {
    X86: facts("manylinux_x86_64", "manylinux_2_28_x86_64"),
    I686: facts("manylinux_i686", "manylinux_2_28_i686"),
    ARM: facts("manylinux_aarch64", "manylinux_2_28_aarch64"),
    MUSL: facts("musllinux_x86_64", "musllinux_1_2_x86_64", "apk"),
}
THREE = {
    "manylinux-x86_64-image": X86,
    "manylinux-i686-image": I686,
    "manylinux-aarch64-image": ARM,
}
ARCH_OF = {X86: "x86_64", I686: "i686", ARM: "aarch64", MUSL: "x86_64"}
PLATFORM_OF = {
    X86: "manylinux_x86_64",
    I686: "manylinux_i686",
    ARM: "manylinux_aarch64",
    MUSL: "musllinux_x86_64",
}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """test_orchestration's world, with an image per platform and QEMU for every arch."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(_run, "emulation_problem", lambda arch: None)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    (project / "demo.c").write_text("int demo;\n")
    engine = FakeEngine(facts_by_image=DISCOVERY)
    monkeypatch.setattr(choice, "detect_engine", lambda _, registry=None: engine.attach(registry))
    return World(tmp_path, project, engine, [])


def ident(image: str, minor: int) -> str:
    return f"cp3{minor}-{PLATFORM_OF[image]}"


def containers(world: World, result: RunResult, suffix: str) -> dict[str, FakeContainer]:
    prefix = f"manywheel-{result.run_id}-"
    return {
        c.name[len(prefix) :]: c
        for c in world.engine.made
        if c.name.startswith(prefix) and c.name.endswith(suffix)
    }


def started(world: World) -> tuple[str, ...]:
    (event,) = [e for e in world.events if isinstance(e.data, BuildStarted)]
    assert isinstance(event.data, BuildStarted)
    return event.data.targets


def test_three_images_build_nine_targets_each_in_its_image_and_arch(world: World) -> None:
    options = {**THREE, "test-command": "python -c pass"}
    result = world.build(**options)
    assert result.ok
    wanted = [ident(image, m) for image in (X86, I686, ARM) for m in (12, 13, 14)]
    assert [r.target.identifier for r in result.results] == wanted
    assert {r.status for r in result.results} == {"built"}
    assert [(im.image, im.arch, im.key, im.platform) for im in result.plan.images] == [
        (X86, "x86_64", "manylinux-x86_64-image", "manylinux_x86_64"),
        (I686, "i686", "manylinux-i686-image", "manylinux_i686"),
        (ARM, "aarch64", "manylinux-aarch64-image", "manylinux_aarch64"),
    ]
    # Each image pulled (for its platform) and discovered as its architecture.
    assert world.engine.pulled_as == [(X86, "x86_64"), (I686, "i686"), (ARM, "aarch64")]
    discovered = containers(world, result, "")
    assert {n: (c.image, c.arch) for n, c in discovered.items() if n.startswith("discover")} == {
        "discover-0": (X86, "x86_64"),
        "discover-1": (I686, "i686"),
        "discover-2": (ARM, "aarch64"),
    }
    # Every target built and tested in a container of its image, run as its arch.
    for r in result.results:
        t = r.target
        name = t.identifier.replace("_", "-")
        build, test = discovered[name], discovered[name + "-test"]
        assert (build.image, build.arch) == (t.image, ARCH_OF[t.image]), name
        assert (test.image, test.arch) == (t.image, ARCH_OF[t.image]), name
        assert t.platform == PLATFORM_OF[t.image]
    assert len([n for n in discovered if n.endswith("-test")]) == 9
    assert world.wheels() == sorted(
        f"demo-1.0-cp3{m}-cp3{m}-manylinux_2_17_{arch}.whl"
        for arch in ("x86_64", "i686", "aarch64")
        for m in (12, 13, 14)
    )
    assert world.engine.live == {}
    # A cached build venv per target, whatever its image.
    assert len(list_venvs(world.root / "cache" / "manywheel")) == 9
    # The report lists the three images, and each target's image and platform.
    data = report_data(result)
    assert data["image"] == [X86, I686, ARM]
    assert data["image_id"] is None
    assert [(i["image"], i["platform"], i["key"]) for i in data["images"]] == [
        (X86, "manylinux_x86_64", "manylinux-x86_64-image"),
        (I686, "manylinux_i686", "manylinux-i686-image"),
        (ARM, "manylinux_aarch64", "manylinux-aarch64-image"),
    ]
    assert [(t["identifier"], t["image"], t["platform"]) for t in data["targets"]] == [
        (r.target.identifier, r.target.image, r.target.platform) for r in result.results
    ]
    # A second run: every target up to date, across the three images.
    made = len(world.engine.made)
    again = world.build(**options)
    assert {r.status for r in again.results} == {"up-to-date"}
    assert len(world.engine.made) == made  # each image's facts are remembered too


def test_an_image_of_the_wrong_platform_stops_the_run_before_any_build(world: World) -> None:
    world.engine.facts_by_image[ARM] = DISCOVERY[X86]  # an x86_64 image named for aarch64
    with pytest.raises(ConfigError) as info:
        world.build(**THREE)
    assert info.value.message == (
        "'manylinux-aarch64-image' is arm:1, but that image is manylinux_x86_64 "
        "(uname -m and its C library, run as aarch64)"
    )
    assert info.value.exit_code == 2
    assert all("discover" in c.name for c in world.engine.made)
    assert world.engine.live == {}
    assert not world.dist.exists()


def test_an_image_recorded_for_another_arch_is_refused_before_it_runs(world: World) -> None:
    world.engine.image_archs = {X86: "amd64", I686: "386", ARM: "amd64"}
    with pytest.raises(ConfigError) as info:
        world.build(**THREE)
    assert (
        info.value.message
        == "'manylinux-aarch64-image' is arm:1, an image for amd64, not aarch64 (arm64)"
    )
    assert info.value.tip == "name a manylinux_aarch64 image for manylinux-aarch64-image"
    assert world.engine.made == []  # not even discovered


def test_a_musl_image_for_a_manylinux_key_is_refused(world: World) -> None:
    with pytest.raises(ConfigError, match="that image is musllinux_x86_64"):
        world.build(**{"manylinux-x86_64-image": MUSL})


def test_a_foreign_arch_without_qemu_fails_before_anything_is_pulled(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nothing = tmp_path / "binfmt_misc"  # not mounted

    def problem(arch: str) -> str | None:
        return emulation_problem(arch, machine="x86_64", binfmt_dir=nothing)

    monkeypatch.setattr(_run, "emulation_problem", problem)
    with pytest.raises(EngineError) as info:
        world.build(**THREE)
    assert info.value.message == (
        "'manylinux-aarch64-image': aarch64 needs emulation on this x86_64 machine, and "
        "binfmt_misc is not mounted"
    )
    assert info.value.tip == EMULATION_TIP
    assert info.value.exit_code == 4
    assert world.engine.pulled == []
    assert world.engine.made == []
    # x86_64 and i686 alone run natively: no emulation needed.
    assert world.build(**{k: v for k, v in THREE.items() if "aarch64" not in k}).ok


def test_each_image_is_prepared_once_with_its_own_tag(world: World) -> None:
    result = world.build(**THREE, **{"system-packages": "zlib-devel"})
    assert result.ok
    made = containers(world, result, "")
    preparing = {n: c for n, c in made.items() if n.startswith("prepare")}
    assert sorted(preparing) == ["prepare", "prepare-1", "prepare-2"]
    assert sorted((c.image, c.arch) for c in preparing.values()) == sorted(
        (image, ARCH_OF[image]) for image in (X86, I686, ARM)
    )
    tags = {c: tag for c, tag, _ in world.engine.committed}
    assert len(tags) == 3
    assert len(set(tags.values())) == 3  # one prepared image per base image
    assert all(tag.startswith(PREPARED_REPO + ":") for tag in tags.values())
    tag_of = {preparing[n[len(f"manywheel-{result.run_id}-") :]].image: tag
              for n, tag in tags.items()}  # fmt: skip
    for r in result.results:
        t = r.target
        build = made[t.identifier.replace("_", "-")]
        assert (build.image, build.arch) == (tag_of[t.image], ARCH_OF[t.image])
    logs = result.log_dir
    assert logs is not None
    assert sorted(p.name for p in logs.glob("prepare*.log")) == [
        "prepare-1.log",
        "prepare-2.log",
        "prepare.log",
    ]
    # Only the images whose targets build are prepared.
    world.build(**THREE, **{"system-packages": "zlib-devel", "force": True, "build": "*_i686"})
    assert len(world.engine.committed) == 3  # the prepared ones are reused


def test_a_platform_skipped_by_skip_is_never_pulled_nor_inspected(world: World) -> None:
    keys = {"manylinux-x86_64-image": X86, "musllinux-x86_64-image": MUSL}
    result = world.build(**keys, skip="*-musllinux_*")
    assert result.ok
    assert world.engine.pulled == [X86]
    assert MUSL not in {c.image for c in world.engine.made}
    assert [im.image for im in result.plan.images] == [X86]
    # Built when not skipped: both libcs of x86_64.
    both = world.build(**keys)
    assert [r.target.identifier for r in both.results] == [
        ident(image, m) for image in (X86, MUSL) for m in (12, 13, 14)
    ]
    assert world.engine.pulled == [X86, MUSL]
    assert "demo-1.0-cp313-cp313-musllinux_1_2_x86_64.whl" in world.wheels()


def test_skipping_every_platform_is_nothing_to_build(world: World) -> None:
    keys = {"manylinux-x86_64-image": X86, "musllinux-x86_64-image": MUSL}
    with pytest.raises(NothingToBuildError) as info:
        world.build(**keys, build="*-manylinux_aarch64")
    assert info.value.message == (
        "no target selected: 'build', 'skip' and 'python' exclude every platform of the "
        "matrix (manylinux_x86_64, musllinux_x86_64)"
    )
    assert info.value.exit_code == 3
    assert world.engine.pulled == []


def test_an_image_without_a_selected_target_leaves_the_plan(world: World) -> None:
    world.engine.facts_by_image[I686] = facts("manylinux_i686", "manylinux_2_28_i686", minors=(13,))
    found = plan(world.options(**THREE, python="3.12"))
    assert [im.image for im in found.images] == [X86, ARM]  # i686 has no 3.12
    assert [t.identifier for t in found.targets] == [ident(X86, 12), ident(ARM, 12)]
    assert [found.image_for(t).image for t in found.targets] == [X86, ARM]


def write_history(world: World, seconds: dict[str, float]) -> None:
    """A previous run's report, where `latest` points."""
    root = world.root / "state" / "manywheel" / "logs"
    old = root / "20200101-000000-abcdef"
    old.mkdir(parents=True)
    targets = [{"identifier": k, "status": "built", "seconds": v} for k, v in seconds.items()]
    (old / "report.json").write_text(json.dumps({"format": REPORT_FORMAT, "targets": targets}))
    (root / "latest").symlink_to(old.name)


def test_targets_start_longest_first_by_the_last_reports_durations(world: World) -> None:
    write_history(world, {
        ident(X86, 12): 5.0, ident(X86, 13): 6.0, ident(X86, 14): 4.0,
        ident(I686, 12): 9.0, ident(I686, 13): 1.0, ident(I686, 14): 2.0,
        ident(ARM, 12): 30.0, ident(ARM, 13): 3.0,  # cp314 aarch64: no history
    })  # fmt: skip
    assert world.build(**THREE).ok
    assert started(world) == (
        ident(ARM, 14),  # emulated, unknown: 20 x the median of the native ones (4.5 s)
        ident(ARM, 12),
        ident(I686, 12),
        ident(X86, 13),
        ident(X86, 12),
        ident(X86, 14),
        ident(ARM, 13),
        ident(I686, 14),
        ident(I686, 13),
    )


def test_without_history_emulated_targets_start_first(world: World) -> None:
    assert world.build(**THREE).ok
    assert started(world) == tuple(
        [ident(ARM, m) for m in (12, 13, 14)]
        + [ident(image, m) for image in (X86, I686) for m in (12, 13, 14)]
    )


OLD, NEW = "quay.io/pypa/manylinux2014_x86_64", "quay.io/pypa/manylinux_2_28_x86_64"


def test_two_images_of_one_platform_build_side_by_side(world: World) -> None:
    world.engine.facts_by_image[OLD] = facts("manylinux_x86_64", "manylinux2014_x86_64")
    world.engine.facts_by_image[NEW] = facts("manylinux_x86_64", "manylinux_2_28_x86_64")
    keys = {"manylinux-x86_64-image": "manylinux2014 manylinux_2_28", "python": "3.13"}
    result = world.build(**keys)
    assert result.ok
    assert [(r.target.identifier, r.target.image) for r in result.results] == [
        ("cp313-manylinux2014_x86_64", OLD),
        ("cp313-manylinux_2_28_x86_64", NEW),
    ]
    assert world.wheels() == [
        "demo-1.0-cp313-cp313-manylinux2014_x86_64.whl",
        "demo-1.0-cp313-cp313-manylinux_2_28_x86_64.whl",
    ]


@pytest.mark.parametrize("named", ["short names", "references"])
def test_only_one_policy_qualified_target(world: World, named: str) -> None:
    """What a CI matrix job runs: `build --only IDENTIFIER` of one of the two images."""
    world.engine.facts_by_image[OLD] = facts("manylinux_x86_64", "manylinux2014_x86_64")
    world.engine.facts_by_image[NEW] = facts("manylinux_x86_64", "manylinux_2_28_x86_64")
    images = "manylinux2014 manylinux_2_28" if named == "short names" else f"{OLD} {NEW}"
    result = world.build(**{"manylinux-x86_64-image": images}, build="cp313-manylinux_2_28_x86_64")
    assert [(r.target.identifier, r.status) for r in result.results] == [
        ("cp313-manylinux_2_28_x86_64", "built")
    ]
    assert [im.image for im in result.plan.images] == [NEW]


def test_a_damaged_last_report_does_not_stop_the_build(world: World) -> None:
    root = world.root / "state" / "manywheel" / "logs"
    (root / "old").mkdir(parents=True)
    (root / "old" / "report.json").write_text(json.dumps({"format": REPORT_FORMAT, "targets": 5}))
    (root / "latest").symlink_to("old")
    assert world.build(**THREE).ok
    assert started(world)[:3] == tuple(ident(ARM, m) for m in (12, 13, 14))


def test_a_cibuildwheel_project_skipping_musllinux_pulls_its_manylinux_image_only(
    world: World,
) -> None:
    (world.project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\n\n[tool.cibuildwheel]\nskip = "*-musllinux_*"\n'
    )
    found = plan(world.options())
    assert world.engine.pulled_as == [("quay.io/pypa/manylinux_2_28_x86_64", "x86_64")]
    assert [t.identifier for t in found.targets] == [
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
    ]


def test_a_missing_image_names_its_key(world: World) -> None:
    world.engine.images_present = {X86, I686}
    with pytest.raises(EngineError) as info:
        world.build(**THREE, pull="never")
    assert info.value.message == (
        "image arm:1 ('manylinux-aarch64-image') is not present in docker and pull is 'never'"
    )
    assert world.engine.pulled == []


# -- cross compilers (see test_cross for the script side) ------------------------------------
TWO = {"manylinux-x86_64-image": X86, "manylinux-aarch64-image": ARM, "python": ["3.13"]}


def test_foreign_targets_mount_zig_read_only_in_their_build_container(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    zig = world.root / "zig"
    made: list[Path] = []

    def toolchain(
        cache_root: Path, options: object, *, machine: str | None = None
    ) -> tuple[Path, tuple[int, int]]:
        made.append(cache_root)
        return zig, (2, 44)

    monkeypatch.setattr(_run, "zig_toolchain", toolchain)
    result = world.build(**TWO)
    assert result.ok
    assert made == [world.root / "cache" / "manywheel"]  # once for the run
    found = containers(world, result, "")
    mount = ("--volume", f"{zig}:/manywheel/toolchain:ro")
    arm, x86 = found["cp313-manylinux-aarch64"], found["cp313-manylinux-x86-64"]
    assert arm.extra_args[:2] == mount
    assert mount[1] not in x86.extra_args
    assert not world.kinds("warning")
    # The emulated target keeps its bytecode in the project's cache; the native one does not.
    assert "PYTHONPYCACHEPREFIX" in world.engine.scripts["cp313-manylinux_aarch64"]
    assert "PYTHONPYCACHEPREFIX" not in world.engine.scripts["cp313-manylinux_x86_64"]
    # Turned off, the aarch64 wheel is rebuilt (it was zig's), the x86_64 one is up to date.
    again = world.build(**TWO, **{"cross-compilers": "off"})
    assert {r.target.identifier: r.status for r in again.results} == {
        "cp313-manylinux_x86_64": "up-to-date",
        "cp313-manylinux_aarch64": "built",
    }
    assert made == [world.root / "cache" / "manywheel"]  # not needed: nothing asked for zig


def test_without_its_toolchain_a_target_builds_with_the_image_compilers(world: World) -> None:
    result = world.build(**TWO)  # the unit tests' pip download fails (tests/conftest.py)
    assert result.ok
    (warning,) = [e.message for e in world.kinds("warning")]
    assert "unit tests download no toolchain" in warning
    assert "cp313-manylinux_aarch64 build with the image's own compilers" in warning
    arm = containers(world, result, "")["cp313-manylinux-aarch64"]
    assert "/manywheel/toolchain:ro" not in " ".join(arm.extra_args)
    # Its wheel keeps the fingerprint of the compilers planned: not rebuilt for that (a no-op
    # run stays one offline), but rebuilt when the plan changes.
    again = world.build(**TWO)
    assert {r.status for r in again.results} == {"up-to-date"}
    assert not world.kinds("warning")
    off = world.build(**TWO, **{"cross-compilers": "off"})
    assert [r.status for r in off.results] == ["up-to-date", "built"]


def _big_builder(world: World, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """``big``, a docker context (an x86_64 machine running aarch64 under QEMU), as the only
    builder: every target builds there."""
    big = FakeEngine(images_present=sorted(world.engine.images_present), facts_by_image=DISCOVERY)
    info = {"ServerVersion": "27.1", "OSType": "linux", "Architecture": "x86_64", "NCPU": 2}

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        return ExecResult(0, json.dumps(info), "")

    monkeypatch.setattr(discovery, "run_client", runner)
    monkeypatch.setattr(_run, "builder_engine", lambda builder, registry: big.attach(registry))
    return big


def test_on_another_builder_zig_for_its_arch_is_mounted_from_a_volume_there(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.engine.images_present = {X86, ARM}
    big = _big_builder(world, monkeypatch)
    asked: list[str | None] = []

    def toolchain(
        cache_root: Path, options: object, *, machine: str | None = None
    ) -> tuple[Path, tuple[int, int]]:
        asked.append(machine)
        return cache_root / "toolchains" / "zig-0.17.1-x86_64" / "ziglang", (2, 44)

    monkeypatch.setattr(_run, "zig_toolchain", toolchain)
    result = world.build(**TWO, builders="docker:big")
    assert result.ok
    assert asked == ["x86_64"]  # zig for the builder's architecture, made ready once
    (volume,) = [v for v, labels in big.volumes_made.items() if labels[VOLUME_LABEL] == "toolchain"]
    assert volume.startswith("manywheel-toolchain-")
    assert volume.endswith("-zig-0.17.1-x86_64")
    assert world.engine.made == []  # nothing built here
    found = {c.name: c for c in big.made}
    (arm,) = [c for n, c in found.items() if n.endswith("cp313-manylinux-aarch64")]
    (x86,) = [c for n, c in found.items() if n.endswith("cp313-manylinux-x86-64")]
    assert arm.extra_args[:2] == ("--volume", f"{volume}:/manywheel/toolchain:ro")
    assert "/manywheel/toolchain:ro" not in " ".join(x86.extra_args)
    # The volume was filled (or found whole) in a container of the target's image, as aarch64.
    (filler,) = [c for n, c in found.items() if n.endswith("toolchain-0")]
    assert (filler.image, filler.arch) == (ARM, "aarch64")
    assert filler.extra_args == ("--volume", f"{volume}:/manywheel/toolchain")
    assert not world.kinds("warning")


def test_a_builder_that_cannot_have_zig_builds_with_the_image_compilers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.engine.images_present = {X86, ARM}
    big = _big_builder(world, monkeypatch)

    made = big.create_volume

    def no_volume(name: str, labels: Mapping[str, str]) -> None:
        if name.startswith("manywheel-toolchain-"):
            raise EngineError("docker volume create failed: no space left on device")
        made(name, labels)

    monkeypatch.setattr(big, "create_volume", no_volume)
    monkeypatch.setattr(
        _run, "zig_toolchain", lambda root, options, *, machine=None: (root / "zig", (2, 44))
    )
    result = world.build(**TWO, builders="docker:big")
    assert result.ok
    (warning,) = [e.message for e in world.kinds("warning")]
    assert warning.startswith("docker volume create failed: no space left on device; ")
    assert "cp313-manylinux_aarch64 build on builder big with the image's own compilers" in warning
    assert all("/manywheel/toolchain" not in " ".join(c.extra_args) for c in big.made)
