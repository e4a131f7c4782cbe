"""abi3 and py3-none wheels serve later targets of their image: built once, tested on each."""

from __future__ import annotations

import itertools
from pathlib import Path, PurePosixPath

import pytest
from cibuildwheel.util.packaging import find_compatible_wheel

from manywheel._abi3 import Coverage, covers
from manywheel._model import Target

WHEELS = [
    "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
    "demo-1.0-cp314-abi3-musllinux_1_2_x86_64.whl",
    "demo-1.0-cp313-abi3-manylinux_2_28_aarch64.whl",
    "demo-1.0-py3-none-manylinux_2_17_x86_64.whl",
    "demo-1.0-py312-none-manylinux_2_17_x86_64.whl",
    "demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl",
    "demo-1.0-pp311-pypy311_pp73-manylinux_2_17_x86_64.whl",
]
IDENTIFIERS = [
    "cp311-manylinux_x86_64",
    "cp312-manylinux_x86_64",
    "cp314-manylinux_x86_64",
    "cp314t-manylinux_x86_64",
    "cp314-musllinux_x86_64",
    "cp313-musllinux_x86_64",
    "cp315-manylinux_aarch64",
    "pp311-manylinux_x86_64",
]


def target(identifier: str) -> Target:
    tag, platform = identifier.split("-", 1)
    impl = {"cp": "cpython", "pp": "pypy", "gp": "graalpy"}[tag[:2]]
    minor = tag[3:].rstrip("t")
    return Target(identifier, f"3.{minor}.0", tag.endswith("t"), "", platform, implementation=impl)


@pytest.mark.parametrize(("wheel", "identifier"), list(itertools.product(WHEELS, IDENTIFIERS)))
def test_a_wheel_covers_what_cibuildwheel_finds_compatible(wheel: str, identifier: str) -> None:
    expected = find_compatible_wheel([PurePosixPath(wheel)], identifier) is not None
    assert covers(wheel, target(identifier)) is expected


def test_a_pure_wheel_covers_every_later_target_too() -> None:
    # cibuildwheel refuses none-any wheels; manywheel builds them once.
    assert covers("demo-1.0-py3-none-any.whl", target("cp314t-musllinux_x86_64"))
    assert not covers("not a wheel", target("cp314-manylinux_x86_64"))


ORDER = [target(i) for i in ("cp312-manylinux_x86_64", "cp313-manylinux_x86_64",
                             "cp314-manylinux_x86_64", "cp314t-manylinux_x86_64",
                             "cp313-manylinux_i686")]  # fmt: skip
ABI3 = Path("demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl")


def outcome(finish_order: list[int], wheels: dict[int, Path | None]) -> dict[str, str]:
    coverage = Coverage(ORDER, lambda t: t.arch)
    settled: dict[str, str] = {}
    for i in finish_order:
        coverage.finished(ORDER[i].identifier, wheels[i])
        for t, wheel in coverage.settle():
            settled[t.identifier] = wheel.name
    return settled


def test_coverage_is_decided_in_target_order_whatever_finishes_first() -> None:
    own = {i: Path(f"own-{i}.whl") for i in range(5)}
    wheels = {**own, 0: ABI3}
    expected = {"cp313-manylinux_x86_64": ABI3.name, "cp314-manylinux_x86_64": ABI3.name}
    for order in itertools.permutations(range(5)):
        assert outcome(list(order), wheels) == expected, order


def test_a_later_abi3_wheel_covers_from_there_and_a_failure_keeps_nothing() -> None:
    later = Path("demo-1.0-cp313-abi3-manylinux_2_17_x86_64.whl")
    wheels: dict[int, Path | None] = {
        0: Path("own.whl"),
        1: later,
        2: Path("x.whl"),
        3: None,
        4: None,
    }
    assert outcome([4, 3, 2, 1, 0], wheels) == {"cp314-manylinux_x86_64": later.name}
    assert outcome([0, 1, 2, 3, 4], {**wheels, 0: None}) == {"cp314-manylinux_x86_64": later.name}


def test_a_wheel_that_is_up_to_date_covers_too() -> None:
    coverage = Coverage(ORDER[:3], lambda t: 0, {ORDER[0].identifier: ABI3})
    assert [(t.identifier, w) for t, w in coverage.settle()] == [
        ("cp313-manylinux_x86_64", ABI3),
        ("cp314-manylinux_x86_64", ABI3),
    ]


def test_a_target_is_decided_once_the_earlier_ones_are_settled() -> None:
    coverage = Coverage(ORDER, lambda t: t.arch)
    ids = [t.identifier for t in ORDER]
    coverage.settle()
    assert [coverage.decided(i) for i in ids] == [True, False, False, False, True]
    coverage.finished(ids[0], Path("own.whl"))  # cp312's wheel (not abi3): cp313 tests on
    coverage.settle()
    assert [coverage.decided(i) for i in ids] == [True, True, False, False, True]
    assert not coverage.decided("cp399-nowhere")
