"""Whole runs with ``reproducible`` (in-memory backend, no engine)."""

from __future__ import annotations

import io
import zipfile

import pytest

from manywheel._errors import ConfigError
from manywheel._report import report_data
from tests.unit import fakes
from tests.unit.fakes import wheel_bytes
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
