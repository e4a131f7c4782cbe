"""Scale-out: the GitHub matrix from a plan, merging the runners' reports, and --only."""

from __future__ import annotations

from pathlib import Path

import pytest

from manywheel._errors import ConfigError
from manywheel._merge import github_matrix, merge_reports
from manywheel._model import BuildImage, ImageFacts, Plan, Target

T1 = Target("cp313-manylinux_x86_64", "3.13.9", False, "/opt/python/cp313-cp313/bin/python")
T2 = Target("cp314-manylinux_x86_64", "3.14.1", False, "/opt/python/cp314-cp314/bin/python")


def test_github_matrix_one_entry_per_target() -> None:
    facts = ImageFacts("manylinux_x86_64", "", "dnf", "bash", (T1, T2))
    plan = Plan((BuildImage("img:1", "sha256:x", facts),), (T1, T2))
    assert github_matrix(plan) == {
        "include": [
            {
                "only": T1.identifier,
                "python": "3.13.9",
                "image": "img:1",
                "platform": "manylinux_x86_64",
                "arch": "x86_64",
            },
            {
                "only": T2.identifier,
                "python": "3.14.1",
                "image": "img:1",
                "platform": "manylinux_x86_64",
                "arch": "x86_64",
            },
        ]
    }


def report(run: str, ident: str, ok: bool = True) -> dict[str, object]:
    status = "built" if ok else "failed"
    return {"format": 1, "run_id": run, "image": "img:1", "seconds": 10, "ok": ok,
            "targets": [{"identifier": ident, "status": status, "seconds": 9}]}  # fmt: skip


def test_merge_combines_targets_and_status() -> None:
    merged = merge_reports(
        [
            (Path("b.json"), report("r2", T2.identifier, ok=False)),
            (Path("a.json"), report("r1", T1.identifier)),
        ]
    )
    assert [t["identifier"] for t in merged["targets"]] == [T1.identifier, T2.identifier]
    assert merged["targets"][0]["report"] == "a.json"
    assert merged["ok"] is False
    assert merged["image"] == "img:1"
    assert merged["merged_from"] == ["b.json", "a.json"]


def test_merge_refuses_a_target_twice() -> None:
    with pytest.raises(ConfigError, match=r"also in a\.json"):
        merge_reports(
            [
                (Path("a.json"), report("r1", T1.identifier)),
                (Path("b.json"), report("r2", T1.identifier)),
            ]
        )


def test_merge_of_a_matrix_lists_each_image_once() -> None:
    x86 = {"image": "x:1", "image_id": "sha256:1", "platform": "manylinux_x86_64", "key": "image"}
    arm = {"image": "a:1", "image_id": "sha256:2", "platform": "manylinux_aarch64",
           "key": "manylinux-aarch64-image"}  # fmt: skip
    one = dict(report("r1", T1.identifier), image="x:1", images=[x86])
    two = dict(report("r2", "cp313-manylinux_aarch64"), image=["x:1", "a:1"], images=[x86, arm])
    merged = merge_reports([(Path("a.json"), one), (Path("b.json"), two)])
    assert merged["images"] == [x86, arm]
    assert merged["image"] == ["a:1", "x:1"]


def built(run: str, ident: str, sha256: str, epoch: int = 315532800) -> dict[str, object]:
    wheel = {"file": "demo.whl", "sha256": sha256}
    return {"format": 1, "run_id": run, "image": "img:1", "seconds": 10, "ok": True,
            "source_date_epoch": epoch,
            "targets": [{"identifier": ident, "status": "built", "seconds": 9, "wheel": wheel}]}  # fmt: skip


def test_merge_keeps_one_entry_when_two_runners_built_the_same_wheel() -> None:
    merged = merge_reports(
        [
            (Path("a.json"), built("r1", T1.identifier, "ab" * 32)),
            (Path("b.json"), built("r2", T1.identifier, "ab" * 32)),
            (Path("c.json"), built("r3", T1.identifier, "ab" * 32)),
        ]
    )
    (target,) = merged["targets"]
    assert (target["report"], target["also_in"]) == ("a.json", ["b.json", "c.json"])
    assert merged["warnings"] == []
    assert merged["source_date_epoch"] == 315532800


def test_merge_warns_when_two_runners_built_the_same_target_differently() -> None:
    merged = merge_reports(
        [
            (Path("a.json"), built("r1", T1.identifier, "ab" * 32)),
            (Path("b.json"), built("r2", T1.identifier, "cd" * 32, epoch=1700000000)),
        ]
    )
    assert [t["report"] for t in merged["targets"]] == ["a.json", "b.json"]
    assert merged["warnings"] == [
        f"{T1.identifier} was built twice with different wheels: sha256 {'ab' * 32} in "
        f"a.json, {'cd' * 32} in b.json"
    ]
    assert merged["source_date_epoch"] == [315532800, 1700000000]
    assert merged["ok"] is True  # a warning: both builds succeeded
