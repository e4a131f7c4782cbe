"""The cross compilers on another builder (``_builders.toolchain``): zig copied once into a
named volume there, read-only in the builds. No engine: the in-memory ``FakeEngine``, whose
volume keeps what a container wrote under the mount."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pytest

from manywheel._builders.toolchain import COMPLETE, FILL_AT, ship_toolchain
from manywheel._engines.process import QUICK_TIMEOUT, ExecResult
from manywheel._errors import EngineError
from tests.unit.fakes import FakeEngine

LABELS = {"manywheel.volume": "toolchain"}


class Volumes(FakeEngine):
    """A FakeEngine whose one volume outlives the containers that mount it at FILL_AT."""

    def __init__(self) -> None:
        super().__init__(images_present=["arm:1"])
        self.kept: dict[str, bytes] = {}
        self.copies = 0

    def run_script(self, name: str, script: str, *, timeout: float = QUICK_TIMEOUT) -> ExecResult:
        ctr = self.live[name]
        files = {**self.kept, **ctr.files}
        if script.startswith("test -f "):
            return ExecResult(0 if shlex.split(script)[2] in files else 1, "", "")
        wanted = re.search(r"-ge (\d+) \] && touch (\S+)$", script)
        if wanted is not None:  # the check of the copy, then its marker
            marker = wanted.group(2)
            entries = {k for k in files if k != marker}
            entries |= {str(p) for k in entries for p in PurePosixPath(k).parents}
            entries = {e for e in entries if e.startswith(FILL_AT + "/")}
            whole = f"{FILL_AT}/zig" in files and len(entries) >= int(wanted.group(1))
            if whole:
                ctr.files[marker] = b""
            return ExecResult(0 if whole else 1, "", "")
        return super().run_script(name, script, timeout=timeout)

    def remove(self, names: Sequence[str]) -> None:
        for name in names:
            ctr = self.live.get(name)
            if ctr is not None:
                written = {k: v for k, v in ctr.files.items() if k.startswith(FILL_AT + "/")}
                self.copies += bool(written)
                self.kept |= written
        super().remove(names)


def zig_folder(tmp_path: Path) -> Path:
    root = tmp_path / "toolchains" / "zig-0.17.1-x86_64" / "ziglang"
    (root / "lib" / "libc").mkdir(parents=True)
    (root / "zig").write_bytes(b"\x7fELF zig")
    (root / "lib" / "libc" / "stub.h").write_text("/* */\n")
    return root


def ship(engine: FakeEngine, root: Path, container: str = "mw-toolchain-0") -> bool:
    return ship_toolchain(
        engine, root, "manywheel-toolchain-c1-zig", LABELS,
        image="arm:1", arch="aarch64", container=container, labels={"manywheel.run": "r1"},
    )  # fmt: skip


def test_zig_is_copied_into_the_volume_once_and_mounted_where_it_is_copied(
    tmp_path: Path,
) -> None:
    engine, root = Volumes(), zig_folder(tmp_path)
    assert ship(engine, root) is True
    assert engine.volumes_made == {"manywheel-toolchain-c1-zig": LABELS}
    assert engine.kept[f"{FILL_AT}/zig"] == b"\x7fELF zig"
    assert f"{FILL_AT}/lib/libc/stub.h" in engine.kept
    (ctr,) = engine.made
    assert ctr.image == "arm:1"
    assert ctr.arch == "aarch64"
    assert ctr.extra_args == ("--volume", f"manywheel-toolchain-c1-zig:{FILL_AT}")
    assert ctr.labels == {"manywheel.run": "r1"}  # a killed run's is found and removed
    assert engine.live == {}
    # The next run finds the copy whole (its last file is there): nothing is copied again.
    assert ship(engine, root, "mw-toolchain-1") is False
    assert engine.copies == 1


def test_a_copy_stopped_before_its_last_file_is_made_again(tmp_path: Path) -> None:
    engine, root = Volumes(), zig_folder(tmp_path)
    engine.kept = {f"{FILL_AT}/zig": b"half"}  # no COMPLETE: a run stopped while copying
    assert ship(engine, root) is True
    assert engine.kept[f"{FILL_AT}/zig"] == b"\x7fELF zig"
    assert f"{FILL_AT}/{COMPLETE}" in engine.kept


def test_a_copy_found_incomplete_is_an_engine_error_and_made_again_next_time(
    tmp_path: Path,
) -> None:
    engine, root = Volumes(), zig_folder(tmp_path)
    zig = (root / "zig").read_bytes()
    (root / "zig").unlink()  # (as if the copy lost it)
    with pytest.raises(EngineError, match="left an incomplete copy"):
        ship(engine, root)
    assert engine.live == {}
    assert f"{FILL_AT}/{COMPLETE}" not in engine.kept  # no marker: not taken as whole
    (root / "zig").write_bytes(zig)
    assert ship(engine, root, "mw-toolchain-1") is True
    assert f"{FILL_AT}/{COMPLETE}" in engine.kept
