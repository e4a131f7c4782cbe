"""Cached build venvs: per-project places, verified before use, saved before build code runs."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pytest

from manywheel import _venvcache as venvcache
from manywheel._engines import host
from manywheel._engines.host import HostBackend
from manywheel._errors import EngineError
from manywheel._events import Emitter
from manywheel._logs import TargetLog
from manywheel._model import Target, TargetResult
from manywheel._scripts.build import stream_steps
from manywheel._venvcache import (
    VENV_FORMAT,
    clean_venvs,
    drop_venv,
    list_venvs,
    project_namespace,
    save_venv,
    venv_path,
    verify_venv,
)
from tests.unit import fake_exec

TARGET = Target("cp313-manylinux_x86_64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python")


def saved(tmp_path: Path, content: bytes = b"venv tar bytes" * 100) -> Path:
    tarball = venv_path(tmp_path, "ns", "key")
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(content)
    record = {"format": "2", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    tarball.with_suffix(".json").write_text(json.dumps(record))
    return tarball


def test_projects_get_their_own_namespace(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    a, b = project_namespace(tmp_path / "a"), project_namespace(tmp_path / "b")
    assert a != b
    assert project_namespace(tmp_path / "link") == a  # the same folder by another name
    assert venv_path(tmp_path, a, "k") != venv_path(tmp_path, b, "k")


def test_verify_accepts_the_saved_snapshot(tmp_path: Path) -> None:
    assert verify_venv(saved(tmp_path)) is None


def test_verify_refuses_truncated_tampered_and_unrecorded(tmp_path: Path) -> None:
    tarball = saved(tmp_path)
    data = tarball.read_bytes()
    tarball.write_bytes(data[:512])
    assert "size" in (verify_venv(tarball) or "")
    tarball.write_bytes(data[:-1] + b"X")  # same size, other content
    assert "sha256" in (verify_venv(tarball) or "")
    tarball.with_suffix(".json").write_text('{"size": "oops"')
    assert "record" in (verify_venv(tarball) or "")
    drop_venv(tarball)
    assert not tarball.exists()
    assert not tarball.with_suffix(".json").exists()


def test_clean_removes_every_namespace(tmp_path: Path) -> None:
    tarball = saved(tmp_path)
    (tarball.parent / ".venv-x.part").write_bytes(b"half")
    assert list_venvs(tmp_path) == [tarball]
    assert clean_venvs(tmp_path) == [tarball]
    assert list(tmp_path.joinpath("venvs").iterdir()) == []


class FakeProc:
    def __init__(self, text: bytes) -> None:
        self.stdout = io.BytesIO(text)


def stream(
    log_path: Path, output: bytes, calls: list[str], saved: str = "saved"
) -> tuple[str | None, TargetResult]:
    """``output`` through stream_steps with the marker ``::m::`` into ``log_path``; a snapshot
    line appends ``saved`` to ``calls``. The last step and the result."""
    result = TargetResult(TARGET)
    with TargetLog(log_path, ()) as log:
        last = stream_steps(
            FakeProc(output),  # type: ignore[arg-type]
            log,
            "::m::",
            result,
            Emitter(None),
            on_snapshot=lambda: calls.append(saved),
        )
    return last, result


def test_snapshot_control_line_is_acted_on_not_logged(tmp_path: Path) -> None:
    calls: list[str] = []
    output = b"::m:: step venv\nmaking it\n::m:: snapshot\n::m:: step build\nbuilding\n"
    stream(tmp_path / "t.log", output, calls)
    assert calls == ["saved"]
    text = (tmp_path / "t.log").read_text()
    assert "snapshot" not in text
    assert "building" in text
    # Output that merely looks like a control line, without the run's secret marker, is text.
    stream(tmp_path / "u.log", b"::other:: snapshot\n", calls, "forged")
    assert calls == ["saved"]


def test_a_control_line_after_an_unfinished_line_is_still_acted_on(tmp_path: Path) -> None:
    """Seen in CI with docker: uv's "Installed 3 packages in 81ms" (stderr) came in two
    writes, and the script's snapshot line (stdout) between them, since docker copies a
    container's two streams apart. The build then waited for a snapshot never taken."""
    calls: list[str] = []
    output = (
        b"::m:: step requirements\nInstalled 3 packages ::m:: snapshot\nin 81ms\n"
        b"noise ::m:: step build\nbuilding\n"
    )
    last, result = stream(tmp_path / "t.log", output, calls)
    assert calls == ["saved"]
    assert last == "build"
    assert set(result.steps) == {"start", "requirements", "build"}
    lines = [line.split("] ", 1)[-1] for line in (tmp_path / "t.log").read_text().splitlines()]
    assert lines == [
        "== requirements", "Installed 3 packages ", "in 81ms", "noise ", "== build", "building",
    ]  # fmt: skip


def test_save_copies_the_snapshot_with_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a host build folder, for real: the tarball comes out whole, and `taken` is created
    so the waiting build script goes on."""
    monkeypatch.setattr(host, "host_folders_base", lambda: tmp_path)
    content = bytes(range(256)) * 5000  # more than one read
    engine = HostBackend()
    dest = venv_path(tmp_path / "cache", "ns", "key")
    with engine.container("host", "ctr", labels={}) as name:
        work = Path(engine.layout(name).work)
        (work / "venv.tar").write_bytes(content)
        save_venv(engine, name, f"{work}/venv.tar", f"{work}/taken", dest, target="cp313")
        assert (work / "taken").is_file()
    assert dest.read_bytes() == content
    assert verify_venv(dest) is None
    assert json.loads(dest.with_suffix(".json").read_text()) == {
        "format": VENV_FORMAT,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "target": "cp313",
    }
    assert sorted(p.name for p in dest.parent.iterdir()) == ["key.json", "key.tar"]


@pytest.mark.parametrize(
    ("stdout", "code", "stderr"),
    [(b"half a tarball", 1, b"cat: /manywheel/venv.tar: I/O error"), (b"", 0, b"")],
)
def test_a_failed_or_empty_copy_leaves_nothing(
    tmp_path: Path, stdout: bytes, code: int, stderr: bytes
) -> None:
    engine = fake_exec.CannedEngine(execs=[fake_exec.FakeProc(stdout, stderr, code)])
    dest = venv_path(tmp_path, "ns", "key")
    with pytest.raises(EngineError) as info:
        save_venv(engine, "ctr", "/manywheel/venv.tar", "/manywheel/taken", dest, target="cp313")
    assert info.value.message == "could not copy the venv snapshot out: " + stderr.decode()
    ((_, command),) = engine.exec_calls
    assert command[-3:] == ["sh", "/manywheel/venv.tar", "/manywheel/taken"]
    assert list(dest.parent.iterdir()) == []  # no tarball, no record, no partial file


def test_a_copy_that_stalls_is_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine's exec client neither sends nor ends (a wedged engine): the build waits on
    # this copy, so it is ended, and nothing is left behind.
    stuck = subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    engine = fake_exec.CannedEngine(execs=[stuck])  # type: ignore[list-item]
    monkeypatch.setattr(venvcache, "SAVE_TIMEOUT", 0.3)
    dest = venv_path(tmp_path, "ns", "key")
    with pytest.raises(EngineError, match="copying the venv snapshot out took over 0 s"):
        save_venv(engine, "ctr", "/manywheel/venv.tar", "/manywheel/taken", dest, target="cp313")
    assert stuck.poll() is not None
    assert list(dest.parent.iterdir()) == []
