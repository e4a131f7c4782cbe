"""Whole runs (``_run.build``) of cibuildwheel configurations with the in-memory backend:
per-target options from overrides, a prepared environment per setup-script, variables passed
by name, allow-empty."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import load_options
from manywheel._cli.main import main
from manywheel._cli.render import summary_lines
from manywheel._config.registry import DEFAULT_IMAGE
from manywheel._errors import NothingToBuildError
from manywheel._manifest import fingerprint
from manywheel._model import Target
from manywheel._prepare import PREPARED_REPO
from manywheel._report import report_data, write_report
from tests.unit.fakes import Behaviour
from tests.unit.test_orchestration import CP312, CP313, World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """test_orchestration's world, with cibuildwheel's default image present too."""
    return make_world(tmp_path, monkeypatch, (DEFAULT_IMAGE, "quay.io/pypa/manylinux_2_28_x86_64"))


def configure(world: World, body: str) -> None:
    (world.project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\n\n' + body
    )


OVERRIDES = """
[tool.manywheel]
before-build = "echo base"
test-command = "pytest"

[[tool.manywheel.overrides]]
select = "cp313-*"
before-build = "echo for-313"
setup-script = "echo set up 313"
engine-args = ["--cpus", "1"]
environment = { ONLY_313 = "yes" }
"""


def test_overrides_reach_the_build_the_preparation_and_the_containers(world: World) -> None:
    configure(world, OVERRIDES)
    result = world.build()
    assert result.ok
    scripts = world.engine.scripts
    assert "ONLY_313" in scripts[CP313]
    assert "ONLY_313" not in scripts[CP312]
    builds = {c.name.rsplit("-", 3)[-3]: c for c in world.engine.made if "-cp31" in c.name}
    cp313 = next(c for c in world.engine.made if c.name.endswith("cp313-manylinux-x86-64"))
    cp312 = next(c for c in world.engine.made if c.name.endswith("cp312-manylinux-x86-64"))
    assert cp313.extra_args[2:] == ("--cpus", "1")
    assert cp312.extra_args[2:] == ()
    # cp313 has a setup-script of its own: a prepared image for it alone.
    assert [tag.startswith(PREPARED_REPO) for _, tag, _ in world.engine.committed] == [True]
    assert cp313.image.startswith(PREPARED_REPO)
    assert not cp312.image.startswith(PREPARED_REPO)
    assert builds


def test_an_override_is_in_the_fingerprint_of_its_targets_only(
    world: World, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.toml"  # outside the project: its sources stay the same
    target = {t: Target(t, "3.13.1", False, "/p") for t in (CP312, CP313)}

    def prints(before_build: str) -> dict[str, str]:
        mine.write_text(f'[[overrides]]\nselect = "cp313-*"\nbefore-build = "{before_build}"\n')
        opts = load_options(world.project, environ={}, config_file=mine)
        return {t: fingerprint(opts.for_target(t), target[t], "env", "src") for t in target}

    first, second = prints("echo a"), prints("echo b")
    assert first[CP312] == second[CP312]
    assert first[CP313] != second[CP313]


def test_source_date_epoch_and_environment_pass_go_in_by_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        world, '[tool.cibuildwheel]\nenvironment-pass = ["BUILD_TIME"]\nskip = "*-musllinux_*"\n'
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("BUILD_TIME", "noon")
    result = world.build()
    assert result.ok, [r.error for r in result.results]
    env = world.engine.exec_env[next(c.name for c in world.engine.made if "cp313" in c.name)]
    assert env == {"BUILD_TIME": "noon", "SOURCE_DATE_EPOCH": "1700000000"}


def test_allow_empty_turns_nothing_to_build_into_success(world: World) -> None:
    with pytest.raises(NothingToBuildError):
        world.build(build="cp27-*")
    result = world.build(build="cp27-*", **{"allow-empty": True})
    assert result.ok
    assert result.results == []
    assert any("allow-empty is set" in e.message for e in world.kinds("info"))
    assert not (world.project / "dist").exists()


def test_the_frontend_and_config_settings_reach_the_build(world: World, tmp_path: Path) -> None:
    configure(
        world,
        '[tool.manywheel]\nbuild-frontend = "pip"\nconfig-settings = { "--build-option" = "--x" }\n',
    )
    assert world.build().ok
    assert "python -m pip wheel . --no-deps" in world.engine.scripts[CP313]
    assert "-C--build-option=--x" in world.engine.scripts[CP313]


def test_plan_with_allow_empty_prints_no_target(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["plan", str(world.project), "--engine", "docker", "--build", "cp27-*"]
    assert main([*args, "--allow-empty", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"images": [], "targets": []}
    assert main([*args, "--format", "json"]) == 3


def test_the_setup_script_runs_with_the_project_in_its_container(world: World) -> None:
    configure(
        world, '[tool.cibuildwheel]\nbefore-all = "make -C {package}/lib"\nskip = "*-musllinux_*"\n'
    )
    result = world.build()
    assert result.ok
    (preparing,) = [c for c in world.engine.made if c.name.endswith("-prepare")]
    assert preparing.files["/project/demo.c"] == b"int demo;\n"
    assert preparing.files["/manywheel/in/setup.sh"] == b"make -C /project/lib\n"


def test_a_failing_test_fails_its_target_and_keeps_its_wheel_out(world: World) -> None:
    world.engine.behaviours[CP313] = Behaviour(test_exit=35)
    result = world.build(**{"test-command": "pytest {project}/tests"})
    assert not result.ok
    status = {r.target.identifier: (r.status, r.error) for r in result.results}
    assert status[CP312] == ("built", None)
    assert status[CP313] == (
        "failed",
        "test step failed (exit 35); its wheel demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl "
        "is not published",
    )
    assert world.wheels() == ["demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"]
    assert sorted(t for t, _ in world.engine.tests) == [CP312, CP313]


ABI3 = "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"


@pytest.mark.parametrize("follower", ["finishes first", "still builds"])
def test_an_abi3_wheel_covers_the_later_target(world: World, follower: str) -> None:
    """cp312's abi3 wheel serves cp313: cp313 is stopped (or its wheel dropped), not built, and
    the abi3 wheel is tested on it; one wheel lands, and both are up to date next time."""
    slow = {"finishes first": CP312, "still builds": CP313}[follower]
    world.engine.behaviours[CP312] = Behaviour(wheel=ABI3)
    world.engine.behaviours[slow] = replace(world.engine.behaviours.get(slow, Behaviour()), delay=2)
    result = world.build(**{"test-command": "pytest"})
    assert result.ok, [r.error for r in result.results]
    status = {r.target.identifier: (r.status, r.covered_by) for r in result.results}
    assert status == {CP312: ("built", None), CP313: ("covered", ABI3)}
    assert world.wheels() == [ABI3]
    assert [p.name for p in result.published] == [ABI3]
    # The abi3 wheel is tested on both; a cp313 that finished first waited for cp312's wheel
    # before testing its own, so it never tested a wheel that is dropped.
    assert sorted((t, ABI3 in script) for t, script in world.engine.tests) == [
        (CP312, True),
        (CP313, True),
    ]
    assert any("cp313-manylinux_x86_64: covered by" in e.message for e in world.kinds("info"))
    lines = summary_lines(result)
    assert f"{CP313}: covered by {ABI3} (not built; its tests ran with it)" in lines
    report = {t["identifier"]: t for t in report_data(result)["targets"]}
    assert (report[CP313]["status"], report[CP313]["covered_by"]) == ("covered", ABI3)
    again = world.build(**{"test-command": "pytest"})
    assert {r.target.identifier: r.status for r in again.results} == {
        CP312: "up-to-date",
        CP313: "up-to-date",
    }


def test_a_covered_targets_failing_test_keeps_the_abi3_wheel_out(world: World) -> None:
    world.engine.behaviours[CP312] = Behaviour(wheel=ABI3)
    world.engine.behaviours[CP313] = Behaviour(test_exit=35, delay=1)
    result = world.build(**{"test-command": "pytest"})
    assert not result.ok
    status = {r.target.identifier: r.status for r in result.results}
    assert status == {CP312: "failed", CP313: "failed"}
    errors = {r.target.identifier: r.error for r in result.results}
    assert errors[CP312] == f"its wheel {ABI3} failed the tests of {CP313}; not published"
    assert world.wheels() == []


def test_without_tests_a_covered_target_is_just_covered(world: World) -> None:
    world.engine.behaviours[CP312] = Behaviour(wheel=ABI3)
    world.engine.behaviours[CP313] = Behaviour(delay=1)
    result = world.build()
    assert {r.target.identifier: r.status for r in result.results} == {
        CP312: "built",
        CP313: "covered",
    }
    assert world.engine.tests == []
    assert f"{CP313}: covered by {ABI3} (not built)" in summary_lines(result)


def test_build_from_sdist_builds_every_wheel_from_the_sdist(world: World) -> None:
    result = world.build(**{"build-from-sdist": True})
    assert result.ok
    sdist_name = "demo-1.0.tar.gz"
    assert sorted(p.name for p in result.published)[-1] == sdist_name
    assert (world.dist / sdist_name).is_file()
    made = [c for c in world.engine.made if c.name.endswith("-sdist")]
    assert len(made) == 1
    for ident in (CP312, CP313):
        build = next(c for c in world.engine.made if c.name.endswith(ident.replace("_", "-")))
        assert build.files["/project/PKG-INFO"].startswith(b"Metadata-Version")  # the sdist's tree
    assert any("made the sdist demo-1.0.tar.gz" in e.message for e in world.kinds("info"))


def test_a_target_covered_last_time_waits_instead_of_building_on_speculation(
    world: World,
) -> None:
    world.engine.behaviours[CP312] = Behaviour(wheel=ABI3)
    first = world.build()
    assert first.log_dir is not None
    write_report(report_data(first), first.log_dir / "report.json")  # as the CLI writes it
    (world.project / "demo.c").write_text("int demo = 2;\n")  # everything is rebuilt...
    made = len(world.engine.made)
    result = world.build()
    assert {r.target.identifier: r.status for r in result.results} == {
        CP312: "built",
        CP313: "covered",
    }
    started = [c.name for c in world.engine.made[made:]]
    assert not any(n.endswith("cp313-manylinux-x86-64") for n in started)  # ...but cp313
    # No longer abi3: the held target builds once cp312's wheel is known not to cover it.
    world.engine.behaviours[CP312] = Behaviour()
    (world.project / "demo.c").write_text("int demo = 3;\n")
    result = world.build()
    assert {r.target.identifier: r.status for r in result.results} == {
        CP312: "built",
        CP313: "built",
    }
