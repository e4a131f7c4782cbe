"""What killed runs leave: owners, staging folders, partial files, the container lifeline."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest

import manywheel._engines.container as eng
from manywheel import OutputError
from manywheel._leftovers import (
    OWNER_FILE,
    OWNER_LABEL,
    Owner,
    _start_time,
    owner_alive,
    reap_containers,
    remove_partial_files,
    sweep_host_folders,
    sweep_staging,
    this_process,
)
from manywheel._output import publish, staging_dir


def dead_owner() -> Owner:
    """The owner token of a process that has ended."""
    proc = subprocess.Popen(["sleep", "5"])
    start = _start_time(proc.pid)
    proc.kill()
    proc.wait()
    me = this_process()
    assert start is not None
    return Owner(me.host, me.boot, proc.pid, start)


def test_owner_token_round_trips() -> None:
    me = this_process()
    assert Owner.parse(me.token()) == me
    assert Owner.parse("") is None
    assert Owner.parse("host:boot:notapid:1") is None


def test_owner_alive_judges_only_this_host() -> None:
    me = this_process()
    assert owner_alive(me) is True
    assert owner_alive(dead_owner()) is False
    assert owner_alive(Owner(me.host, me.boot, me.pid, "1")) is False  # a reused pid
    assert owner_alive(Owner(me.host, "otherboot", me.pid, me.start)) is False  # rebooted
    assert owner_alive(Owner("elsewhere", me.boot, 1, "1")) is None  # never judged


def run_folder(root: Path, name: str, owner: Owner | None) -> Path:
    run = root / name
    (run / "staging" / "cp313").mkdir(parents=True)
    (run / "cp313.log").write_text("log")
    if owner is not None:
        (run / OWNER_FILE).write_text(owner.token())
    return run


def test_sweep_staging_removes_only_dead_runs(tmp_path: Path) -> None:
    dead = run_folder(tmp_path, "dead", dead_owner())
    live = run_folder(tmp_path, "live", this_process())
    other = run_folder(tmp_path, "other", Owner("elsewhere", "b", 1, "1"))
    anonymous = run_folder(tmp_path, "anonymous", None)
    kept = tmp_path / "kept" / "kept-wheels"
    kept.mkdir(parents=True)
    removed = sweep_staging(tmp_path, current=live)
    assert sorted(removed) == sorted([dead / "staging", anonymous / "staging"])
    assert (dead / "cp313.log").is_file()  # logs stay
    assert (live / "staging").is_dir()
    assert (other / "staging").is_dir()
    assert kept.is_dir()


def test_partial_files_are_removed_wheels_are_not(tmp_path: Path) -> None:
    part = tmp_path / ".pkg-1.0-py3-none-any.whl.x1y2.part"
    part.write_bytes(b"half")
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"whole")
    other = tmp_path / ".notes.part"
    other.write_text("mine")
    assert remove_partial_files(tmp_path) == [part]
    assert wheel.exists()
    assert other.exists()


def make_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    return path


def test_folder_named_like_a_wheel_stops_publish_before_anything(tmp_path: Path) -> None:
    staging = staging_dir(tmp_path / "logs" / "run")
    first = make_wheel(staging / "aaa-1.0-py3-none-any.whl")
    second = make_wheel(staging / "pkg-1.0-py3-none-any.whl")
    out = tmp_path / "dist"
    (out / second.name).mkdir(parents=True)
    with pytest.raises(OutputError) as info:
        publish([first, second], out, staging)
    assert info.value.exit_code == 5
    assert "is a folder" in info.value.message
    assert sorted(p.name for p in out.iterdir()) == [second.name]  # nothing published


def test_staging_is_private_and_outside_the_project(tmp_path: Path) -> None:
    staging = staging_dir(tmp_path / "state" / "run-1")
    assert staging == tmp_path / "state" / "run-1" / "staging"
    assert staging.stat().st_mode & 0o777 == 0o700


class FakeRun:
    """Stands for the `run -i` client: says the container runs, then waits for its stdin."""

    def __init__(self, ready: bool) -> None:
        self.stdin = io.BytesIO()
        self.stdout = io.BytesIO(b"manywheel-ready\n" if ready else b"")
        self.stderr = io.BytesIO(b"" if ready else b"Error: name already in use")
        self.returncode: int | None = None if ready else 125

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = 0
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        self.wait()
        return self.stdout.read(), self.stderr.read()

    def kill(self) -> None:
        pass


def test_containers_live_on_a_lifeline(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    fake = FakeRun(ready=True)
    engine = eng.Engine("docker", "/usr/bin/docker")
    monkeypatch.setattr(engine, "popen", lambda args, **kw: calls.append(list(args)) or fake)
    monkeypatch.setattr(eng, "_wait_ready", lambda proc, timeout: True)
    monkeypatch.setattr(engine, "call", lambda args, **kw: calls.append(list(args)))
    engine.create(
        "img", "manywheel-x", labels={"manywheel.run": "r"}, extra_args=("--label", "a=b")
    )
    run = calls[0]
    assert run[:3] == ["run", "-i", "--rm"]
    # The user's arguments first, manywheel's labels after them (the last one wins).
    assert run.index("a=b") < run.index("manywheel.run=r")
    assert run[-4:-1] == ["/bin/sh", "img", "-c"]
    assert not fake.stdin.closed
    engine.remove(["manywheel-x"])
    assert fake.stdin.closed  # the container's main process sees end of input and exits
    assert calls[1][:3] == ["rm", "-f", "-v"]


def test_failed_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = eng.Engine("podman", "/usr/bin/podman")
    monkeypatch.setattr(engine, "popen", lambda args, **kw: FakeRun(ready=False))
    monkeypatch.setattr(eng, "_wait_ready", lambda proc, timeout: False)
    with pytest.raises(eng.EngineError, match="name already in use"):
        engine.create("img", "manywheel-y", labels={})


def test_a_container_that_ended_is_reported_with_the_reason_its_client_gives_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # podman's client closes the container's output, cleans up, then says why and exits.
    engine = eng.Engine("podman", "/usr/bin/podman")
    script = 'exec 1>&-; sleep 1; echo "Error: qemu: cannot apply global" >&2; exit 3'

    def popen(args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    monkeypatch.setattr(engine, "popen", popen)
    with pytest.raises(eng.EngineError, match=r"run failed \(exit 3\): Error: qemu: cannot"):
        engine.create("img", "manywheel-e", labels={})


def test_a_start_that_never_comes_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wedged engine: the `run -i` client lives on and never says the container runs.
    engine = eng.Engine("podman", "/usr/bin/podman")
    client: list[subprocess.Popen[bytes]] = []

    def popen(args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        client.append(
            subprocess.Popen(
                ["sleep", "60"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
        return client[0]

    calls: list[list[str]] = []
    monkeypatch.setattr(engine, "popen", popen)
    monkeypatch.setattr(engine, "call", lambda args, **kw: calls.append(list(args)))
    monkeypatch.setattr(eng, "START_TIMEOUT", 0.3)
    with pytest.raises(eng.EngineError, match="did not start the container within 0 s") as e:
        engine.create("img", "manywheel-z", labels={})
    assert "manywheel doctor" in (e.value.tip or "")
    assert client[0].poll() is not None  # the client was ended, not left waiting
    # In case it started after all (podman's `rm` is told to go on when it did not).
    assert calls == [["rm", "-f", "-v", "--time", "0", "--ignore", "manywheel-z"]]


def test_reap_removes_dead_owners_only(monkeypatch: pytest.MonkeyPatch) -> None:
    dead, live = dead_owner(), this_process()
    rows = {
        "manywheel-dead": dead.token(),
        "manywheel-live": live.token(),
        "manywheel-elsewhere": Owner("elsewhere", "b", 1, "1").token(),
        "manywheel-blank": "",  # made from a committed image: not a run's container
    }
    removed: list[str] = []
    engine = eng.Engine("docker", "/usr/bin/docker")
    monkeypatch.setattr(engine, "containers", lambda label: [*rows, "someone-elses"])

    def call(args: list[str], **kw: object) -> eng.ExecResult:
        assert OWNER_LABEL in args[2]
        assert "someone-elses" not in args
        out = "".join(f"/{name}\t{rows[name]}\n" for name in args[3:])
        return eng.ExecResult(0, out, "")

    monkeypatch.setattr(engine, "call", call)
    monkeypatch.setattr(engine, "remove", removed.extend)
    reaped = reap_containers(engine)
    assert [name for name, _ in reaped] == ["manywheel-dead"]
    assert removed == ["manywheel-dead"]


def test_host_mode_folders_of_dead_runs_are_swept(tmp_path: Path) -> None:
    def folder(name: str, owner: Owner | None) -> Path:
        path = tmp_path / name
        (path / "project").mkdir(parents=True)
        if owner is not None:
            (path / OWNER_FILE).write_text(owner.token())
        return path

    dead = folder("manywheel-run1-cp313-abc", dead_owner())
    live = folder("manywheel-run2-cp313-def", this_process())
    unmarked = folder("manywheel-someone-elses", None)
    other = folder("other-tool-dead", dead_owner())
    assert sweep_host_folders(tmp_path) == [dead]
    assert not dead.exists()
    assert live.is_dir()
    assert unmarked.is_dir()
    assert other.is_dir()
