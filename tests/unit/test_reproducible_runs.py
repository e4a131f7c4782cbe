"""Whole runs with ``reproducible`` and ``check-reproducible`` (in-memory backend, no engine)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from manywheel._cli.main import main
from manywheel._errors import ConfigError
from manywheel._report import load_report, report_data
from tests.unit import fakes
from tests.unit.fakes import Behaviour, wheel_bytes
from tests.unit.test_orchestration import CP312, CP313, WHEEL312, WHEEL313, World, world

__all__ = ["world"]  # the fixture, shared with test_orchestration

EPOCH = 1700000000


@pytest.fixture(autouse=True)
def _no_host_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def times(world: World, wheel: str) -> set[tuple[int, ...]]:
    with zipfile.ZipFile(world.dist / wheel) as zf:
        return {i.date_time for i in zf.infolist()}


def test_a_reproducible_run_dates_its_wheels_and_reports_the_epoch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    result = world.build()
    assert result.ok
    assert result.source_date_epoch == EPOCH
    assert report_data(result)["source_date_epoch"] == EPOCH
    assert times(world, WHEEL312) == {(2023, 11, 14, 22, 13, 20)}
    assert f"export SOURCE_DATE_EPOCH={EPOCH} PYTHONHASHSEED=0" in world.engine.scripts[CP312]
    infos = [e.message for e in world.kinds("info")]
    assert f"reproducible: SOURCE_DATE_EPOCH={EPOCH} (the host environment)" in infos
    assert result.results[0].log is not None
    assert "manywheel: normalized " + WHEEL312 in result.results[0].log.read_text()


def test_builds_at_other_times_give_the_same_bytes(world: World) -> None:
    first = world.build()
    assert first.source_date_epoch == 315532800  # no commit, no sdist: 1980
    before = {w: (world.dist / w).read_bytes() for w in world.wheels()}
    world.engine.scripts.clear()
    again = world.build(force=True)
    assert set(world.engine.scripts) == {CP312, CP313}  # built again, not skipped
    assert {w: (world.dist / w).read_bytes() for w in world.wheels()} == before
    assert again.ok


def test_reproducible_off_leaves_the_build_and_its_wheel_as_they_were(world: World) -> None:
    result = world.build(reproducible=False)
    assert result.ok
    assert result.source_date_epoch is None
    assert "SOURCE_DATE_EPOCH" not in world.engine.scripts[CP312]
    assert times(world, WHEEL312) != {(1980, 1, 1, 0, 0, 0)}


def test_another_epoch_rebuilds_an_up_to_date_target(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.build()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    result = world.build()
    assert {r.status for r in result.results} == {"built"}
    assert times(world, WHEEL313) == {(2023, 11, 14, 22, 13, 20)}


def test_an_epoch_that_is_no_number_stops_the_run_before_the_output_folder_exists(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "last tuesday")
    with pytest.raises(ConfigError, match="not a whole number"):
        world.build()
    assert not world.dist.exists()
    assert world.engine.scripts == {}


def test_a_wheel_that_cannot_be_normalized_fails_its_target(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def twice(name: str, code: str = "") -> bytes:  # passes the wheel check, not normalizing
        buf = io.BytesIO(wheel_bytes(name, code))
        with zipfile.ZipFile(buf, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("demo/__init__.py", "again")
        return buf.getvalue()

    monkeypatch.setattr(fakes, "wheel_bytes", twice)
    result = world.build(python="3.12")
    (only,) = result.results
    assert (only.status, only.error) == (
        "failed",
        f"normalizing {WHEEL312} failed: demo/__init__.py is in the archive twice",
    )
    assert world.wheels() == []


def test_check_reproducible_builds_twice_elsewhere_and_keeps_a_same_wheel(world: World) -> None:
    world.build()
    result = world.build(**{"check-reproducible": True})  # implies force: nothing is up to date
    assert result.ok
    assert {r.status for r in result.results} == {"built"}
    names = sorted(c.name for c in world.engine.made[-4:])
    run = f"manywheel-{result.run_id}"
    assert names == sorted(
        [f"{run}-{t}".replace("_", "-") for t in (CP312, CP313)]
        + [f"{run}-{t}".replace("_", "-") + "-check" for t in (CP312, CP313)]
    )
    second = world.engine.scripts[CP312]  # the last script run for it: the second build's
    assert "cd /project-check" in second
    assert "TMPDIR=/manywheel-check/tmp" in second
    assert "-ffile-prefix-map=/manywheel-check=/manywheel" in second
    assert "venv.tar" not in second  # a fresh venv: the cached one is not relocatable
    steps = [e.data.step for e in world.kinds("step") if e.target == CP312]
    assert steps.count("start") == 2
    assert "check" in steps
    assert result.log_dir is not None
    log = (result.log_dir / f"{CP312}.log").read_text()
    assert "made the same wheel, byte for byte" in log
    assert (result.log_dir / f"{CP312}-check.log").is_file()
    assert world.wheels() == [WHEEL312, WHEEL313]


def test_check_reproducible_fails_a_target_whose_wheels_differ(world: World) -> None:
    world.engine.behaviours[CP313] = Behaviour(unstable=True)
    result = world.build(**{"check-reproducible": True})
    assert not result.ok
    by = {r.target.identifier: r for r in result.results}
    assert by[CP312].status == "built"
    failed = by[CP313]
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith(
        "not reproducible: demo/__init__.py: the content differs (10 and 10 bytes, text); "
        "line 1: 'build = "
    )
    assert result.log_dir is not None
    kept = result.log_dir / "check" / CP313
    assert f"both wheels are in {kept}" in failed.error
    assert (kept / "first" / WHEEL313).is_file()
    assert (kept / "second" / WHEEL313).is_file()
    assert failed.tail[-1] == f"manywheel: {failed.error}"
    assert world.wheels() == [WHEEL312]  # the target failed: its wheel is not published


def test_check_reproducible_with_a_failing_second_build(world: World) -> None:
    original = world.engine._build

    def second_fails(proc, ctr, script, marker, target):  # type: ignore[no-untyped-def]
        if "/project-check" in script:
            world.engine.behaviours[target] = Behaviour(fail_at="build", code=33)
        return original(proc, ctr, script, marker, target)

    world.engine._build = second_fails  # type: ignore[method-assign]
    result = world.build(**{"check-reproducible": True})
    assert {r.status for r in result.results} == {"failed"}
    error = result.results[0].error
    assert error is not None
    assert error.startswith("the second build for check-reproducible failed: build step failed")
    assert world.wheels() == []


def test_check_mode_is_no_input_of_the_wheel(world: World) -> None:
    world.build(**{"check-reproducible": True})
    assert {r.status for r in world.build().results} == {"up-to-date"}


def test_the_cli_exits_1_and_explains_when_a_check_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.engine.behaviours[CP312] = Behaviour(unstable=True)
    code = main(["build", str(world.project), "--engine", "docker", "--check-reproducible", "-q"])
    assert code == 1
    out = capsys.readouterr().out
    assert f"{CP312} failed: not reproducible: demo/__init__.py" in out
    report = load_report(world.root / "state" / "manywheel" / "logs" / "latest" / "report.json")
    assert report["source_date_epoch"] == 315532800
    assert [t["status"] for t in report["targets"]] == ["failed", "built"]
    assert json.dumps(report).count("not reproducible") == 1
    assert world.wheels() == [WHEEL313]
