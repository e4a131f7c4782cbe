"""The tar stream that carries the project and the scripts into a container in one exec."""

from __future__ import annotations

import io
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from manywheel._config.exclude import Exclusions
from manywheel._engines import host
from manywheel._engines.host import HostBackend
from manywheel._engines.transfer import (
    Parcel,
    ParcelFeeder,
    copy_in,
    copy_out_wheels,
    unpack_command,
    write_parcels,
)
from manywheel._errors import EngineError
from tests.unit.fake_exec import CannedEngine, FakeProc


def parcels(tmp_path: Path) -> list[Parcel]:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "mod.c").write_text("int x;\n")
    (project / "dist").mkdir()
    (project / "dist" / "old.whl").write_text("not copied")
    (project / ".venv").mkdir()
    (project / ".git" / "objects").mkdir(parents=True)  # VCS metadata: left out by default
    (project / "data").mkdir()
    (project / "data" / "big.h5").write_text("excluded by a glob")
    cached = tmp_path / "venv.tar"
    cached.write_bytes(b"tar")
    return [
        Parcel("/project", project, Exclusions((project / "dist",), ("*.h5",))),
        Parcel("/manywheel/in", files={"build.sh": b"echo hi\n", "venv.tar": cached}),
    ]


def test_one_stream_holds_every_parcel_under_its_folder(tmp_path: Path) -> None:
    buf = io.BytesIO()
    write_parcels(buf, parcels(tmp_path))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == [
        "manywheel/in/build.sh",
        "manywheel/in/venv.tar",
        "project/data",
        "project/src",
        "project/src/mod.c",
    ]
    assert all(m.uid == 0 and m.uname == "root" for m in members.values())
    assert members["manywheel/in/build.sh"].mode == 0o755


def test_the_unpack_command_extracts_it_relative_to_root(tmp_path: Path) -> None:
    root = tmp_path / "root"  # stands for the container's /: the folders are absolute paths
    moved = [Parcel(f"{root}{p.dest}", p.tree, p.exclude, p.files) for p in parcels(tmp_path)]
    proc = subprocess.Popen(["/bin/sh", "-c", unpack_command(moved)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, moved)
    feeder.start()
    feeder.join()
    assert proc.wait() == 0
    assert feeder.error is None
    assert (root / "project" / "src" / "mod.c").read_text() == "int x;\n"
    assert (root / "manywheel" / "in" / "build.sh").read_bytes() == b"echo hi\n"
    assert not (root / "project" / "dist").exists()


def test_an_unreadable_file_is_reported_not_swallowed(tmp_path: Path) -> None:
    gone = Parcel("/manywheel/in", files={"venv.tar": tmp_path / "missing.tar"})
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    feeder = ParcelFeeder(proc.stdin, [gone])
    feeder.start()
    feeder.join()
    proc.wait()
    assert isinstance(feeder.error, FileNotFoundError)


def wheels_tar(members: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """A tar stream as `tar -cf - -C src .` would send: (name, content or None, type)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def test_copy_out_takes_only_plain_top_level_wheels(tmp_path: Path) -> None:
    stream = wheels_tar(
        [
            ("./", None, tarfile.DIRTYPE),
            ("./good-1.0-py3-none-any.whl", b"wheel bytes", tarfile.REGTYPE),
            ("../evil-1.0-py3-none-any.whl", b"x", tarfile.REGTYPE),
            ("/etc/abs-1.0-py3-none-any.whl", b"x", tarfile.REGTYPE),
            ("./sub/deep-1.0-py3-none-any.whl", b"x", tarfile.REGTYPE),
            ("./.hidden.whl", b"x", tarfile.REGTYPE),
            ("./notes.txt", b"x", tarfile.REGTYPE),
            ("./link-1.0-py3-none-any.whl", None, tarfile.SYMTYPE),
            ("./dir.whl", None, tarfile.DIRTYPE),
        ]
    )
    engine = CannedEngine(execs=[FakeProc(stream)])
    dest = tmp_path / "staging"
    dest.mkdir()
    taken, rejected = copy_out_wheels(engine, "ctr", "/manywheel/out", dest)
    assert engine.exec_calls == [("ctr", ["tar", "-cf", "-", "-C", "/manywheel/out", "."])]
    assert taken == [dest / "good-1.0-py3-none-any.whl"]
    assert taken[0].read_bytes() == b"wheel bytes"
    assert [(r.name, r.reason) for r in rejected] == [
        ("../evil-1.0-py3-none-any.whl", "not a plain *.whl name"),
        ("/etc/abs-1.0-py3-none-any.whl", "not a plain *.whl name"),
        ("./sub/deep-1.0-py3-none-any.whl", "not a plain *.whl name"),
        ("./.hidden.whl", "not a plain *.whl name"),
        ("./notes.txt", "not a plain *.whl name"),
        ("./link-1.0-py3-none-any.whl", "not a regular file"),
        ("./dir.whl", "not a regular file"),
    ]
    assert sorted(p.name for p in dest.iterdir()) == ["good-1.0-py3-none-any.whl"]
    assert not (tmp_path / "evil-1.0-py3-none-any.whl").exists()


def test_copy_out_never_overwrites(tmp_path: Path) -> None:
    stream = wheels_tar([("./a-1.0-py3-none-any.whl", b"new", tarfile.REGTYPE)])
    (tmp_path / "a-1.0-py3-none-any.whl").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        copy_out_wheels(CannedEngine(execs=[FakeProc(stream)]), "ctr", "/out", tmp_path)
    assert (tmp_path / "a-1.0-py3-none-any.whl").read_bytes() == b"old"


@pytest.mark.parametrize(
    ("stream", "code", "message"),
    [
        (b"garbage that is no tar" * 30, 0, "could not read the wheels from container ctr"),
        (
            wheels_tar([("./", None, tarfile.DIRTYPE)]),
            2,
            "copying wheels out of container ctr failed: tar: /out: No such file",
        ),
    ],
)
def test_copy_out_failures_are_engine_errors(
    tmp_path: Path, stream: bytes, code: int, message: str
) -> None:
    proc = FakeProc(stream, b"tar: /out: No such file\n", code)
    engine = CannedEngine(execs=[proc])
    with pytest.raises(EngineError) as info:
        copy_out_wheels(engine, "ctr", "/out", tmp_path)
    assert info.value.message.startswith(message)
    assert proc.returncode == code  # the child was waited for either way


def test_copy_in_sends_the_tree_and_files_in_one_stream(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    (project / "dist" / "old.whl").write_text("left out")
    (project / "setup.py").write_text("setup()\n")
    proc = FakeProc(stdin=True)
    sink = proc.stdin
    assert sink is not None
    engine = CannedEngine(execs=[proc])
    copy_in(engine, "ctr", "/project", tree=project, exclude=[project / "dist"],
            files={"build.sh": b"echo hi\n"})  # fmt: skip
    ((name, command),) = engine.exec_calls
    assert (name, command[:2]) == ("ctr", ["/bin/sh", "-c"])
    assert command[2] == unpack_command([Parcel("/project")])
    assert proc.stdin is None  # closed, and not flushed again by communicate
    assert engine.procs == []
    with tarfile.open(fileobj=io.BytesIO(sink.data)) as tar:
        assert sorted(tar.getnames()) == ["project/build.sh", "project/setup.py"]


def test_copy_in_failure_shows_the_containers_message(tmp_path: Path) -> None:
    engine = CannedEngine(execs=[FakeProc(b"tar: short read\n", returncode=2, stdin=True)])
    with pytest.raises(
        EngineError, match="copying files into container ctr failed: tar: short read"
    ):
        copy_in(engine, "ctr", "/manywheel/in", files={"a": b"1"})


def test_copy_in_and_out_with_real_tar_in_a_host_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host, "host_folders_base", lambda: tmp_path)
    project = tmp_path / "src-project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("X = 1\n")
    (project / "__pycache__").mkdir()
    engine = HostBackend()
    with engine.container("host", "ctr", labels={}) as name:
        layout = engine.layout(name)
        copy_in(engine, name, layout.project, tree=project, files={"extra.txt": b"e"})
        here = Path(layout.project)
        assert (here / "pkg" / "mod.py").read_text() == "X = 1\n"
        assert (here / "extra.txt").read_bytes() == b"e"
        assert not (here / "__pycache__").exists()
        out = Path(layout.out)
        out.mkdir()
        (out / "demo-1.0-py3-none-any.whl").write_bytes(b"zip")
        (out / "link-1.0-py3-none-any.whl").symlink_to(project / "pkg" / "mod.py")
        (out / "sub").mkdir()
        dest = tmp_path / "dest"
        dest.mkdir()
        taken, rejected = copy_out_wheels(engine, name, layout.out, dest)
    assert taken == [dest / "demo-1.0-py3-none-any.whl"]
    assert sorted((r.name, r.reason) for r in rejected) == [
        ("./link-1.0-py3-none-any.whl", "not a regular file"),
        ("./sub", "not a regular file"),
    ]


def test_copy_in_to_a_client_that_stops_reading_ends_after_its_timeout(tmp_path: Path) -> None:
    """A real client that never reads (an engine that stopped answering): the write would
    wait for ever; the timeout ends the client, and the copy fails."""
    tree = tmp_path / "toolchain"
    tree.mkdir()
    (tree / "zig").write_bytes(b"\0" * (4 << 20))  # far more than a pipe holds
    stuck = subprocess.Popen(
        ["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    engine = CannedEngine(execs=[stuck])  # type: ignore[list-item]
    started = time.monotonic()
    with pytest.raises(EngineError, match="copying files into container ctr failed"):
        copy_in(engine, "ctr", "/manywheel/toolchain", tree=tree, timeout=0.5)
    assert time.monotonic() - started < 30
    assert stuck.returncode == -signal.SIGKILL
