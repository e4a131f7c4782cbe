"""The watch over this machine's engine (``_engines.watch``): with a real ``Engine`` driving a
stand-in command-line client that answers, fails or never answers."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._engines.container import Engine
from manywheel._engines.watch import EngineWatch, keep_asking

REAL_POPEN = Engine.popen  # (unit tests block it: these call a stand-in client, no engine)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Engine]:
    """An engine whose client runs ``ps`` (shell) for `ps` and answers every other command."""

    def make(ps: str) -> Engine:
        binary = tmp_path / f"stand-in-client-{len(list(tmp_path.iterdir()))}"
        binary.write_text(f'#!/bin/sh\nif [ "$1" = ps ]; then {ps}; fi\n')
        binary.chmod(0o755)
        engine = Engine("podman", str(binary))
        monkeypatch.setattr(engine, "popen", functools.partial(REAL_POPEN, engine))
        return engine

    return make


def _watched(engine: Engine, seconds: float) -> list[str]:
    said: list[str] = []
    with EngineWatch(engine, "manywheel.run=r1", said.append, interval=0.05, timeout=0.3, misses=2):
        time.sleep(seconds)
    return said


def test_an_engine_that_never_answers_is_found_stuck(client: Callable[[str], Engine]) -> None:
    said = _watched(client("exec sleep 30"), 1.6)
    assert said, "two unanswered questions in a row are a stuck engine"
    assert said[0].startswith("no answer to 2 questions in a row: podman ps -a did not answer")
    assert len(said) <= 2  # counted afresh after each time


def test_an_answer_even_an_error_is_an_engine_at_work(client: Callable[[str], Engine]) -> None:
    assert _watched(client("echo 'Error: boom' >&2; exit 125"), 0.8) == []
    assert _watched(client("echo manywheel-r1-cp313"), 0.8) == []


def test_keep_asking_counts_misses_in_a_row_only() -> None:
    answers = iter([None, "x", None, "y", "z", None, "w", "v", "u"])
    stop, seen = threading.Event(), []

    def ask() -> str | None:
        try:
            return next(answers)
        except StopIteration:
            stop.set()
            return None

    def missed(count: int, why: str) -> bool:
        seen.append((count, why))
        return False

    keep_asking(stop, 0.001, ask, 2, missed)
    assert seen == [(2, "z"), (2, "v")]  # "u" starts a new count


def test_keep_asking_ends_when_told() -> None:
    stop, seen = threading.Event(), []
    keep_asking(stop, 0.001, lambda: "no", 1, lambda count, why: seen.append(why) or True)
    assert seen == ["no"]
