"""The order targets start in (``_schedule``): longest expected first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._builders import Builder, BuilderFacts
from manywheel._errors import EngineError
from manywheel._model import Assignment, Target
from manywheel._report import REPORT_FORMAT
from manywheel._schedule import (
    EMULATION_FACTOR,
    assign,
    core_budget,
    expected_seconds,
    longest_first,
    previous_durations,
)


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


# -- several builders ----------------------------------------------------------------------


def builder(
    name: str, arch: str, cpus: int = 4, emulated: frozenset[str] | None = frozenset()
) -> BuilderFacts:
    """A builder as discovery describes it (``emulated`` None: not known until tried)."""
    return BuilderFacts(
        Builder(name, f"docker:{name}", "docker", ("--context", name)),
        "27.3.1",
        arch,
        cpus,
        emulated,
    )


def at_once(targets: int, cores: int) -> int:
    return Options(Path("/project")).effective_jobs(targets, cores)  # jobs = 0: auto


def placed(assignment: Assignment) -> dict[str, list[str]]:
    return {share.name: list(share.targets) for share in assignment.shares}


X = target("cp315-manylinux_x86_64")
F = target("cp313-manylinux_armv7l")


def test_native_targets_spread_evenly_over_equal_builders() -> None:
    one, two = builder("one", "x86_64"), builder("two", "x86_64")
    assignment = assign([A, B, X, E], [one, two], {}, at_once)
    assert placed(assignment) == {
        "one": [A.identifier, X.identifier],
        "two": [B.identifier, E.identifier],
    }
    share = assignment.shares[0]
    assert (share.at_once, share.cores_per_target) == (2, 2)  # both at once, 4 cores between them
    assert (share.emulated, share.unchecked) == ((), ())
    assert (share.endpoint, share.engine, share.version, share.arch, share.cpus) == (
        "docker:one", "docker", "27.3.1", "x86_64", 4
    )  # fmt: skip
    assert assignment.share_of(E.identifier).name == "two"


def test_an_aarch64_target_goes_to_the_arm64_builder() -> None:
    x86 = builder("x86", "x86_64", emulated=frozenset({"aarch64", "armv7l"}))
    arm = builder("arm", "aarch64")
    assignment = assign([A, C, E, F, D], [x86, arm], {}, at_once)
    # Natively where that can be (armv7l on aarch64, i686 on x86_64), though x86 emulates them.
    assert placed(assignment) == {
        "x86": [A.identifier, E.identifier],
        "arm": [C.identifier, F.identifier, D.identifier],
    }
    assert all(share.emulated == () for share in assignment.shares)


def test_without_a_native_builder_an_emulating_one_takes_the_target() -> None:
    plain = builder("plain", "x86_64")  # no QEMU registered
    qemu = builder("qemu", "x86_64", emulated=frozenset({"aarch64"}))
    remote = builder("remote", "x86_64", emulated=None)  # docker elsewhere: not known
    assignment = assign([A, C], [plain, qemu, remote], {}, at_once)
    assert placed(assignment) == {"plain": [A.identifier], "qemu": [C.identifier], "remote": []}
    assert assignment.share_of(C.identifier).emulated == (C.identifier,)
    assert assignment.share_of(C.identifier).unchecked == ()
    # Only where it is not known: sent there, and marked so (doctor checks it).
    assignment = assign([C, A], [plain, remote], {}, at_once)
    assert placed(assignment) == {"plain": [A.identifier], "remote": [C.identifier]}
    share = assignment.share_of(C.identifier)
    assert (share.emulated, share.unchecked) == ((C.identifier,), (C.identifier,))


def test_a_builder_with_no_target_it_can_run_gets_none() -> None:
    arm = builder("arm", "aarch64")
    assignment = assign([A, B], [builder("x86", "x86_64"), arm], {}, at_once)
    assert placed(assignment) == {"x86": [A.identifier, B.identifier], "arm": []}
    idle = assignment.shares[1]
    assert (idle.at_once, idle.cores_per_target, idle.emulated) == (0, 0, ())
    with pytest.raises(LookupError, match="no builder for cp399"):
        assignment.share_of("cp399-manylinux_x86_64")


def test_a_target_no_builder_can_run_is_named_with_the_builders() -> None:
    s390x = target("cp313-manylinux_s390x")
    s390x_2 = target("cp314-manylinux_s390x")
    riscv = target("cp313-manylinux_riscv64")
    builders = [builder("local", "x86_64", emulated=frozenset({"aarch64", "armv7l"})),
                builder("arm", "aarch64")]  # fmt: skip
    with pytest.raises(EngineError) as info:
        assign([A, s390x, riscv, s390x_2], builders, {}, at_once)
    assert info.value.message == (
        "no builder can run cp313-manylinux_s390x, cp314-manylinux_s390x (s390x); "
        "cp313-manylinux_riscv64 (riscv64): local is x86_64 and emulates aarch64, armv7l; "
        "arm is aarch64 and emulates nothing"
    )
    assert info.value.tip == (
        "add a builder that is s390x or riscv64, register QEMU for it with the fix-binary flag "
        'on a builder (`manywheel doctor` says how), or skip those targets (e.g. skip = "*_s390x")'
    )


def test_cores_weigh_each_builders_share() -> None:
    big, small = builder("big", "x86_64", cpus=8), builder("small", "x86_64", cpus=2)
    five = [A, B, X, E, target("cp312-manylinux_x86_64")]
    assignment = assign(five, [small, big], {}, at_once)
    assert [len(share.targets) for share in assignment.shares] == [1, 4]
    assert [(s.at_once, s.cores_per_target) for s in assignment.shares] == [(1, 2), (4, 2)]
    # jobs caps the targets at once on each builder; each then has more of its cores.
    one_at_a_time = Options(Path("/project"), jobs=1).effective_jobs
    shares = assign(five, [small, big], {}, one_at_a_time).shares
    assert [(s.at_once, s.cores_per_target) for s in shares] == [(1, 2), (1, 8)]


def test_longest_first_with_history_balances_the_builders() -> None:
    history = {A.identifier: 10.0, B.identifier: 60.0, X.identifier: 100.0, E.identifier: 50.0}
    one, two = builder("one", "x86_64"), builder("two", "x86_64")
    assignment = assign([A, B, X, E], [one, two], history, at_once)
    # 100 -> one; 60 -> two; 50 -> two (110 < 150); 10 -> one (110 < 120). Each starts longest first.
    assert placed(assignment) == {
        "one": [X.identifier, A.identifier],
        "two": [B.identifier, E.identifier],
    }
    # An emulated target is expected to take EMULATION_FACTOR times the native median.
    qemu = builder("qemu", "x86_64", emulated=frozenset({"aarch64"}))
    assignment = assign([A, B, C], [qemu, builder("plain", "x86_64")], {}, at_once)
    assert placed(assignment) == {"qemu": [C.identifier], "plain": [A.identifier, B.identifier]}


def test_expected_seconds_and_core_budget() -> None:
    history = {A.identifier: 10.0, B.identifier: 30.0}
    assert expected_seconds([A, B, C, E], history, emulated) == {
        A.identifier: 10.0, B.identifier: 30.0, C.identifier: 400.0, E.identifier: 20.0
    }  # fmt: skip
    assert [core_budget(8, n) for n in (1, 2, 3, 8, 16, 0)] == [8, 4, 2, 1, 1, 8]
