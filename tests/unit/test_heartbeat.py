"""The heartbeat over builders (``_builders.heartbeat``), a given-up engine and a builder's
own process registry: with fake engines and short intervals (no engine)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

import pytest

from manywheel._builders import BuilderFacts
from manywheel._builders.fleet import Fleet, Place
from manywheel._builders.heartbeat import Heartbeat
from manywheel._engines.container import Engine
from manywheel._engines.process import ExecResult, ProcessRegistry, spawn
from manywheel._errors import EngineError
from tests.unit.fakes import FakeEngine
from tests.unit.test_builders import one


class Pinged(FakeEngine):
    """Answers ``version`` from ``answers`` in turn (the last one then for ever)."""

    def __init__(self, answers: Sequence[ExecResult | EngineError]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.pings = 0

    def call(self, args: Sequence[str], **kw: object) -> ExecResult:
        assert args[0] == "version"
        answer = self.answers[min(self.pings, len(self.answers) - 1)]
        self.pings += 1
        if isinstance(answer, EngineError):
            raise answer
        return answer


UP = ExecResult(0, "27.1\n", "")
DOWN = ExecResult(1, "", "Cannot connect to the Docker daemon at tcp://big:2376\n")
HUNG = EngineError("docker (builder big) version did not answer within 10 s")


def fleet_of(**engines: FakeEngine) -> Fleet:
    places = []
    for name, engine in engines.items():
        builder = one("local" if name == "local" else f"docker:{name}", "docker")
        places.append(Place(BuilderFacts(builder, "27.1", "x86_64", 2, frozenset()), engine))
    return Fleet(places)


def watch(fleet: Fleet, seconds: float) -> list[tuple[str, str]]:
    lost: list[tuple[str, str]] = []
    with Heartbeat(fleet, lambda n, r: lost.append((n, r)), interval=0.01, timeout=1):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not lost:
            time.sleep(0.01)
    time.sleep(0.05)  # a late call must not report anything more
    return lost


def test_a_builder_that_answers_is_kept_and_this_machines_engine_is_not_pinged() -> None:
    local, big = Pinged([DOWN]), Pinged([UP, DOWN, UP])  # one miss is no loss
    fleet = fleet_of(local=local, big=big)
    assert watch(fleet, 0.3) == []
    assert fleet.lost == {}
    assert local.pings == 0
    assert big.pings > 3
    assert big.given_up is None


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ([UP, DOWN], "Cannot connect to the Docker daemon at tcp://big:2376"),
        ([HUNG], "version did not answer within 10 s"),
    ],
    ids=["refused", "hung"],
)
def test_a_builder_that_misses_two_pings_in_a_row_is_given_up(
    answers: list[ExecResult | EngineError], why: str
) -> None:
    big = Pinged(answers)
    fleet = fleet_of(local=FakeEngine(), big=big)
    ((name, reason),) = watch(fleet, 5)
    assert name == "big"
    assert reason.startswith("no answer to 2 pings in a row: ")
    assert why in reason
    assert fleet.lost == {"big": reason}
    assert big.given_up == reason
    pings = big.pings
    time.sleep(0.1)
    assert big.pings == pings  # not pinged any more


def test_a_builder_the_run_lost_first_is_left_alone() -> None:
    big = Pinged([DOWN])
    fleet = fleet_of(local=FakeEngine(), big=big)
    fleet.lose("big", "its build's exec failed")
    assert watch(fleet, 0.2) == []
    assert big.given_up is None  # the run gave it up itself
    assert fleet.lost == {"big": "its build's exec failed"}


def test_a_given_up_engine_stops_its_clients_and_refuses_every_call() -> None:
    run = ProcessRegistry()
    engine = Engine("docker", "/usr/bin/docker", ProcessRegistry(parent=run), where="big")
    other = spawn(run, ["sleep", "30"], stdin=None, stdout=None, stderr=None)
    mine = engine._spawn(["sleep", "30"], stdin=None, stdout=None, stderr=None)
    try:
        engine.give_up("no answer to 2 pings in a row")
        assert mine.wait(timeout=10) != 0  # the builder's own client was stopped...
        assert other.poll() is None  # ...and nothing else
        with pytest.raises(EngineError, match=r"docker \(builder big\) was given up: no answer"):
            engine._spawn(["true"], stdin=None, stdout=None, stderr=None)
    finally:
        run.stop_all(grace=0.1)  # the run's registry has them all
    assert other.poll() is not None


def test_a_builders_registry_tells_the_run_of_its_processes() -> None:
    run = ProcessRegistry()
    mine = ProcessRegistry(parent=run)
    proc = subprocess.Popen(["sleep", "30"])
    mine.add(proc)
    run.stop_all(grace=0.1)
    assert proc.wait(timeout=10) != 0
    mine.discard(proc)
    late = subprocess.Popen(["sleep", "30"])
    mine.add(late)
    mine.discard(late)  # gone from both: the run's stop_all leaves it alone
    run.stop_all(grace=0.1)
    assert late.poll() is None
    late.kill()
    late.wait()
