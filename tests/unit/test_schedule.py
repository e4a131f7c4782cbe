"""The order targets start in (``_schedule``): longest expected first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manywheel._model import Target
from manywheel._report import REPORT_FORMAT
from manywheel._schedule import EMULATION_FACTOR, longest_first, previous_durations


def target(identifier: str) -> Target:
    return Target(identifier, "3.13.1", False, "/p", identifier.split("-", 1)[1])


A = target("cp313-manylinux_x86_64")
B = target("cp314-manylinux_x86_64")
C = target("cp313-manylinux_aarch64")
D = target("cp314-manylinux_aarch64")
E = target("cp313-manylinux_i686")


def emulated(t: Target) -> bool:
    return t.arch == "aarch64"


def names(targets: list[Target]) -> list[str]:
    return [t.identifier for t in targets]


def test_without_history_emulated_targets_start_first_and_ties_keep_their_order() -> None:
    assert longest_first([A, C, B, E, D], {}, emulated) == [C, D, A, B, E]
    assert longest_first([A, B, E], {}, emulated) == [A, B, E]
    assert longest_first([], {}, emulated) == []


def test_history_decides_and_unknown_targets_are_guessed_from_the_native_median() -> None:
    history = {A.identifier: 10.0, B.identifier: 30.0, C.identifier: 100.0}
    # D (emulated, unknown): 20 x median(10, 30) = 400 s; E (native, unknown): 20 s.
    assert names(longest_first([A, B, C, D, E], history, emulated)) == names([D, C, B, E, A])
    assert EMULATION_FACTOR == 20.0
    # A known emulated duration counts as it is, and does not move the native median.
    history = {A.identifier: 10.0, C.identifier: 5.0}
    assert longest_first([A, C, D, E], history, emulated) == [D, A, E, C]


def test_equal_expectations_keep_the_plan_order() -> None:
    history = dict.fromkeys((A.identifier, B.identifier, E.identifier), 7.0)
    assert longest_first([E, B, A], history, emulated) == [E, B, A]


def report(root: Path, data: object, *, raw: str | None = None) -> Path:
    """A previous run folder with ``data`` as its report.json, where ``latest`` points."""
    run = root / "20200101-000000-abcdef"
    run.mkdir(parents=True)
    (run / "report.json").write_text(raw if raw is not None else json.dumps(data))
    (root / "latest").symlink_to(run.name)
    return root


def test_previous_durations_are_the_built_targets_seconds(tmp_path: Path) -> None:
    targets = [
        {"identifier": A.identifier, "status": "built", "seconds": 12.5},
        {"identifier": B.identifier, "status": "built", "seconds": 3},
        {"identifier": C.identifier, "status": "failed", "seconds": 99.0},  # not a full build
        {"identifier": D.identifier, "status": "up-to-date", "seconds": 0.0},
        {"identifier": E.identifier, "status": "built", "seconds": 0},
        {"identifier": "cp315-manylinux_x86_64", "status": "built", "seconds": "12"},
        {"identifier": 7, "status": "built", "seconds": 1.0},
        {"status": "built", "seconds": 1.0},
        "not an entry",
    ]
    root = report(tmp_path, {"format": REPORT_FORMAT, "targets": targets})
    assert previous_durations(root) == {A.identifier: 12.5, B.identifier: 3.0}


@pytest.mark.parametrize(
    ("data", "raw"),
    [
        (None, "{ not json"),
        (None, ""),
        ({"format": REPORT_FORMAT + 1, "targets": []}, None),  # another format
        (["a", "list"], None),
        ({"format": REPORT_FORMAT}, None),
        ({"format": REPORT_FORMAT, "targets": None}, None),
        ({"format": REPORT_FORMAT, "targets": 5}, None),
        ({"format": REPORT_FORMAT, "targets": {"cp313-manylinux_x86_64": 3.0}}, None),
    ],
    ids=["invalid-json", "empty", "other-format", "a-list", "no-targets", "null-targets",
         "number-targets", "table-targets"],
)  # fmt: skip
def test_a_damaged_report_gives_no_history(tmp_path: Path, data: object, raw: str | None) -> None:
    assert previous_durations(report(tmp_path, data, raw=raw)) == {}


def test_no_previous_run_gives_no_history(tmp_path: Path) -> None:
    assert previous_durations(tmp_path / "no-logs-yet") == {}
    (tmp_path / "latest").symlink_to("gone")  # the run folder was removed
    assert previous_durations(tmp_path) == {}
