"""The exact command lines the docker/podman backend runs (its process spawning is replaced:
each engine command is recorded, and a harmless local process stands in for it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from manywheel._builders import builder_engine, parse_builders
from manywheel._engines import choice, container
from manywheel._engines.container import LIFELINE, Engine
from manywheel._engines.host import HostBackend, discover_host
from manywheel._engines.process import ProcessRegistry
from manywheel._errors import EngineError, NothingToBuildError
from tests.unit.fakes import FakeEngine

# Taken before the autouse fixture of conftest blocks them for unmarked tests.
REAL_POPEN = Engine.popen
REAL_EXEC = Engine.exec_


@dataclass
class Spawned:
    argv: list[str]
    env: dict[str, str] | None
    stdin: object


@dataclass
class Recorder:
    """Stands in for the engine's client: records each command, prints a canned answer."""

    answers: dict[str, str] = field(default_factory=dict)  # subcommand -> its stdout
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)  # -> exit code, stderr
    fails_with: str = ""  # if set, only a command with an argument containing it fails
    calls: list[Spawned] = field(default_factory=list)

    def spawn(
        self,
        engine: Engine,
        argv: Sequence[str],
        *,
        stdin: int | IO[bytes] | None,
        stdout: int | IO[bytes] | None,
        stderr: int | IO[bytes] | None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        self.calls.append(Spawned(list(argv), dict(env) if env is not None else None, stdin))
        command = argv[1 + len(engine.client_args) :]  # after a builder's --context NAME
        fails = any(self.fails_with in a for a in argv) if self.fails_with else False
        if command[0] == "run" and not fails:  # the lifeline: says it runs, ends with stdin
            stand_in = ["/bin/sh", "-c", "echo manywheel-ready; cat >/dev/null"]
        else:
            code, err = (
                self.failures.get(command[0], (0, "")) if fails or not self.fails_with else (0, "")
            )
            script = 'printf %s "$1"; printf %s "$2" >&2; cat >/dev/null; exit "$3"'
            if command[0] == "run":  # a container that did not start reads nothing
                script = script.replace(" cat >/dev/null;", "")
            stand_in = ["/bin/sh", "-c", script, "sh", self.answers.get(command[0], ""), err]
            stand_in.append(str(code))
        proc = subprocess.Popen(stand_in, stdin=stdin, stdout=stdout, stderr=stderr)
        engine.registry.add(proc)
        return proc

    def argv(self) -> list[list[str]]:
        return [c.argv for c in self.calls]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(Engine, "popen", REAL_POPEN)
    monkeypatch.setattr(Engine, "exec_", REAL_EXEC)

    def spawn(engine: Engine, argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        return rec.spawn(engine, argv, **kw)  # a function: bound to each engine like a method

    monkeypatch.setattr(Engine, "_spawn", spawn)
    return rec


def test_create_keeps_a_lifeline_and_puts_manywheel_labels_last(recorder: Recorder) -> None:
    engine = Engine("docker", "/usr/bin/docker")
    labels = {"manywheel.run": "r1", "manywheel.owner": "h:b:1:2"}
    extra = ("--label", "manywheel.run=forged", "--network", "none")
    with engine.container("img:1", "manywheel-r1-x", labels=labels, extra_args=extra) as ctr:
        assert ctr == "manywheel-r1-x"
        lifeline = recorder.calls[0]
        assert lifeline.stdin == subprocess.PIPE  # held open by this process
    assert lifeline.argv == [
        "/usr/bin/docker", "run", "-i", "--rm", "--name", "manywheel-r1-x",
        "--label", "manywheel.run=forged", "--network", "none",
        "--label", "manywheel.run=r1", "--label", "manywheel.owner=h:b:1:2",
        "--entrypoint", "/bin/sh", "img:1", "-c", LIFELINE,
    ]  # fmt: skip
    assert recorder.argv()[1] == ["/usr/bin/docker", "rm", "-f", "-v", "manywheel-r1-x"]
    assert engine.registry._procs == set()  # the lifeline ended with the container


def test_create_passes_environment_values_as_arguments(recorder: Recorder) -> None:
    engine = Engine("docker", "docker")
    engine.create("img", "c", labels={}, env={"A": "1"})
    assert recorder.argv()[0][6:10] == ["--env", "A=1", "--entrypoint", "/bin/sh"]
    engine.remove(["c"])


def test_podman_removes_without_a_grace_period(recorder: Recorder) -> None:
    Engine("podman", "/usr/bin/podman").remove(["a", "b"])
    assert recorder.argv() == [
        ["/usr/bin/podman", "rm", "-f", "-v", "--time", "0", "--ignore", "a", "b"]
    ]


def test_exec_names_secrets_without_their_values(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine("docker", "docker")
    proc = engine.exec_("c", ["/bin/sh", "-c", "true"], stdin=subprocess.PIPE, env={"TOKEN": "s3"})
    proc.communicate(b"")
    call = recorder.calls[0]
    assert call.argv == ["docker", "exec", "-i", "--env", "TOKEN", "c", "/bin/sh", "-c", "true"]
    assert call.env is not None
    assert call.env["TOKEN"] == "s3"
    assert call.env["PATH"] == os.environ["PATH"]
    assert not any("s3" in word for word in call.argv)
    engine.exec_("c", ["ls"]).communicate()
    assert recorder.argv()[1] == ["docker", "exec", "c", "ls"]  # no -i without stdin


def test_image_commands(recorder: Recorder) -> None:
    engine = Engine("podman", "podman")
    recorder.answers = {
        "images": "localhost/mw\tk1\tsha256:aa\t2 days ago\t1 GB\nlocalhost/mw\tk2\tsha256:bb\tnow\t2 GB\n",
        "image": "sha256:cc\n",
    }
    assert engine.images("manywheel.cache=7") == [
        {"Repository": "localhost/mw", "Tag": "k1", "ID": "sha256:aa",
         "CreatedSince": "2 days ago", "Size": "1 GB"},
        {"Repository": "localhost/mw", "Tag": "k2", "ID": "sha256:bb",
         "CreatedSince": "now", "Size": "2 GB"},
    ]  # fmt: skip
    assert engine.image_id("img") == "sha256:cc"
    engine.commit("ctr", "localhost/mw:k3", {"manywheel.run": "", "a b": 'x"y'})
    engine.remove_image("localhost/mw:k1")
    engine.remove_image("localhost/mw:k2", force=False)  # a prune: an image in use stays
    engine.pull("img")
    fmt = "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    assert recorder.argv() == [
        ["podman", "images", "--filter", "label=manywheel.cache=7", "--format", fmt, "--no-trunc"],
        ["podman", "image", "inspect", "--format", "{{.Id}}", "img"],
        ["podman", "commit", "--change", 'LABEL "manywheel.run"=""',
         "--change", 'LABEL "a b"="x\\"y"', "ctr", "localhost/mw:k3"],
        ["podman", "rmi", "-f", "localhost/mw:k1"],
        ["podman", "rmi", "localhost/mw:k2"],
        ["podman", "pull", "img"],
    ]  # fmt: skip


def test_container_queries_and_scripts(recorder: Recorder) -> None:
    engine = Engine("docker", "docker")
    recorder.answers = {"ps": "manywheel-a\nmanywheel-b\n", "inspect": "true\n", "exec": "out"}
    assert engine.containers("manywheel.run=r") == ["manywheel-a", "manywheel-b"]
    assert engine.is_running("manywheel-a")
    result = engine.run_script("manywheel-a", "echo hi")
    assert (result.returncode, result.stdout) == (0, "out")
    assert recorder.argv() == [
        ["docker", "ps", "-a", "--filter", "label=manywheel.run=r", "--format", "{{.Names}}"],
        ["docker", "inspect", "--format", "{{.State.Running}}", "manywheel-a"],
        ["docker", "exec", "-i", "manywheel-a", "/bin/sh", "-s"],
    ]
    assert recorder.calls[2].stdin == subprocess.PIPE


def test_a_failing_engine_command_names_the_engine(recorder: Recorder) -> None:
    recorder.failures = {"pull": (3, "denied\n")}
    with pytest.raises(EngineError, match=r"^docker pull img failed \(exit 3\): denied$"):
        Engine("docker", "docker").pull("img")


def test_backends_say_what_they_can_do() -> None:
    engine = Engine("docker", "docker")
    assert engine.container_engine() is engine
    host = HostBackend(ProcessRegistry())
    assert host.container_engine() is None
    assert not isinstance(host, Engine)
    assert choice.host_mode("host")
    assert not choice.host_mode("auto")


def test_auto_falls_back_to_the_host_after_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_engine(name: str, registry: object = None) -> Engine:
        raise EngineError("no usable container engine: docker: not installed")

    monkeypatch.setattr(choice, "detect_engine", no_engine)
    told: list[str] = []
    host = HostBackend(ProcessRegistry())
    registry = ProcessRegistry()
    got = choice.pick_backend(
        "auto", registry, host=lambda: host, fallback=lambda e: told.append(e.message)
    )
    assert got is host
    assert told == ["no usable container engine: docker: not installed"]
    with pytest.raises(EngineError):
        choice.pick_backend("docker", registry, host=lambda: host, fallback=told.append)
    assert choice.pick_backend("host", registry, host=lambda: host, fallback=told.append) is host
    assert choice.container_engine_for("host") is None


def test_no_caller_tells_backends_apart_by_class_or_name() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "manywheel"
    offenders = [
        f"{path.relative_to(src)}:{n}"
        for path in src.rglob("*.py")
        if path.parent.name != "_engines"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "HostBackend)" in line or '== "host"' in line or '!= "host"' in line
    ]
    assert offenders == []


def test_a_host_without_cpython_says_what_to_install() -> None:
    with pytest.raises(NothingToBuildError, match="this machine has no CPython") as caught:
        discover_host(FakeEngine(facts="platform manylinux_x86_64\nshell bash\n"), "x")
    assert caught.value.tip == "install python3-venv (Debian/Ubuntu) or use a container engine"


@pytest.fixture
def x86_64_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine is an x86_64 one (it runs aarch64 under QEMU), wherever the tests run."""
    monkeypatch.setattr(container, "runs_natively", lambda arch: arch in ("x86_64", "i686"))


@pytest.mark.usefixtures("x86_64_machine")
def test_a_foreign_container_runs_with_its_platform(recorder: Recorder) -> None:
    engine = Engine("docker", "/usr/bin/docker")
    extra = ("--network", "none")
    with engine.container("img:1", "c", labels={"l": "v"}, extra_args=extra, arch="aarch64"):
        engine.run_script("c", "echo hi")
        engine.exec_("c", ["ls"]).communicate()
    assert recorder.argv()[:5] == [
        ["/usr/bin/docker", "run", "-i", "--rm", "--name", "c",
         "--platform", "linux/arm64", "--network", "none", "--label", "l=v",
         "--entrypoint", "/bin/sh", "img:1", "-c", LIFELINE],
        # QEMU's cheaper pointer authentication: does the image set a CPU, does QEMU take it
        ["/usr/bin/docker", "image", "inspect", "--format", "{{json .Config.Env}}", "img:1"],
        ["/usr/bin/docker", "exec", "--env", "QEMU_CPU=max,pauth-impdef=on", "c",
         "/bin/sh", "-c", ":"],
        # then every command gets it (a 64-bit one: no prefix)
        ["/usr/bin/docker", "exec", "-i", "--env", "QEMU_CPU=max,pauth-impdef=on", "c",
         "/bin/sh", "-s"],
        ["/usr/bin/docker", "exec", "--env", "QEMU_CPU=max,pauth-impdef=on", "c", "ls"],
    ]  # fmt: skip


REFUSED = (
    "aarch64-binfmt-P: can't apply global max-arm-cpu.pauth-impdef=on: Property "
    "'max-arm-cpu.pauth-impdef' not found"
)


@pytest.mark.usefixtures("x86_64_machine")
def test_a_qemu_that_refuses_the_cpu_runs_the_commands_without_it(recorder: Recorder) -> None:
    recorder.failures["exec"] = (1, REFUSED)
    recorder.fails_with = "QEMU_CPU="
    engine = Engine("podman", "podman")
    engine.create("img:1", "c", labels={}, arch="aarch64")
    engine.create("img:1", "d", labels={}, arch="aarch64")  # not checked again
    engine.run_script("c", "echo hi")
    engine.run_script("d", "echo hi")
    calls = recorder.argv()
    assert [a[1] for a in calls] == ["run", "image", "exec", "run", "exec", "exec"]
    assert calls[2][2:4] == ["--env", "QEMU_CPU=max,pauth-impdef=on"]  # the check
    assert not any("QEMU_CPU" in a for c in calls[3:] for a in c)
    assert engine._qemu_cpu_taken == {"aarch64": False}
    engine.remove(["c", "d"])


@pytest.mark.usefixtures("x86_64_machine")
def test_qemu_cpu_only_where_qemu_runs_the_container(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine("docker", "docker")
    engine.create("img:1", "x", labels={}, arch="x86_64")  # native here: nothing to set
    engine.create("img:1", "i", labels={}, arch="i686")
    builder = Engine("docker", "docker", client_args=("--context", "b"), where="b")
    builder.create("img:1", "b", labels={}, arch="aarch64")  # its kernel: not known here
    monkeypatch.setattr(container, "runs_natively", lambda arch: True)  # an arm64 machine
    engine.create("img:1", "a", labels={}, arch="aarch64")
    assert [a[1 + (a[1] == "--context") * 2] for a in recorder.argv()] == ["run"] * 4
    for name in ("x", "i", "a"):
        engine.exec_(name, ["ls"]).communicate()
    assert not any("QEMU_CPU" in a for c in recorder.argv() for a in c)
    engine.remove(["x", "i", "a"])
    builder.remove(["b"])


@pytest.mark.usefixtures("x86_64_machine")
def test_a_qemu_cpu_of_the_users_or_the_images_wins(recorder: Recorder) -> None:
    engine = Engine("docker", "docker")
    engine.create("img:1", "c", labels={}, env={"QEMU_CPU": "cortex-a72"}, arch="aarch64")
    engine.create("img:1", "d", labels={}, extra_args=("-e", "QEMU_CPU=max"), arch="aarch64")
    engine.exec_("c", ["ls"], env={"A": "1"}).communicate()
    recorder.answers["image"] = '["PATH=/usr/bin", "QEMU_CPU=cortex-a53"]'
    engine.create("img:2", "e", labels={}, arch="aarch64")
    engine.exec_("e", ["ls"]).communicate()
    said = [a for c in recorder.argv() for a in c if "QEMU_CPU" in a]
    assert said == ["QEMU_CPU=cortex-a72", "QEMU_CPU=max"]  # as given, nothing of ours
    engine.remove(["c", "d", "e"])


@pytest.mark.parametrize(("arch", "oci"), [("i686", "linux/386"), ("armv7l", "linux/arm/v7")])
def test_a_32_bit_container_runs_every_command_under_linux32(
    recorder: Recorder, arch: str, oci: str
) -> None:
    engine = Engine("podman", "podman")
    engine.create("img:1", "c32", labels={"l": "v"}, extra_args=("--cpus", "2"), arch=arch)
    engine.create("img:1", "c64", labels={}, arch="x86_64")
    engine.exec_("c32", ["/bin/sh", "-c", "uname -m"]).communicate()
    engine.run_script("c32", "echo hi")
    engine.exec_("c64", ["uname", "-m"]).communicate()
    engine.remove(["c32", "c64"])
    engine.exec_("c32", ["ls"]).communicate()  # a container of that name made later: its own
    assert recorder.argv() == [
        ["podman", "run", "-i", "--rm", "--name", "c32", "--platform", oci, "--cpus", "2",
         "--label", "l=v", "--entrypoint", "linux32", "img:1", "/bin/sh", "-c", LIFELINE],
        ["podman", "run", "-i", "--rm", "--name", "c64", "--platform", "linux/amd64",
         "--entrypoint", "/bin/sh", "img:1", "-c", LIFELINE],
        ["podman", "exec", "c32", "linux32", "/bin/sh", "-c", "uname -m"],
        ["podman", "exec", "-i", "c32", "linux32", "/bin/sh", "-s"],
        ["podman", "exec", "c64", "uname", "-m"],
        ["podman", "rm", "-f", "-v", "--time", "0", "--ignore", "c32", "c64"],
        ["podman", "exec", "c32", "ls"],
    ]  # fmt: skip


def test_pull_names_the_platform_of_the_arch(recorder: Recorder) -> None:
    engine = Engine("docker", "docker")
    engine.pull("quay.io/pypa/manylinux_2_34_aarch64", arch="aarch64")
    engine.pull("quay.io/pypa/manylinux_2_34_i686", arch="i686")
    engine.pull("img:1")
    assert recorder.argv() == [
        ["docker", "pull", "--platform", "linux/arm64", "quay.io/pypa/manylinux_2_34_aarch64"],
        ["docker", "pull", "--platform", "linux/386", "quay.io/pypa/manylinux_2_34_i686"],
        ["docker", "pull", "img:1"],
    ]


def _builder_engine(word: str, environ: Mapping[str, str]) -> Engine:
    (builder,) = parse_builders([word], environ=environ)
    return builder_engine(builder, ProcessRegistry(), environ=environ)


def test_a_builder_engine_sends_every_command_to_its_context(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    engine = _builder_engine("docker:armbox", {"PATH": "/usr/bin", "HOME": "/home/u"})
    assert (engine.name, engine.where) == ("docker", "armbox")
    recorder.answers = {"image": "sha256:cc\n"}
    with engine.container("img:1", "c1", labels={}, arch="aarch64") as ctr:
        engine.exec_(ctr, ["ls"]).communicate()
        engine.run_script(ctr, "echo hi")
        engine.is_running(ctr)
    engine.pull("img:1")
    assert engine.image_id("img:1") == "sha256:cc"
    engine.commit("c1", "localhost/mw:k", {})
    engine.images("manywheel.prepared=1")
    engine.containers("manywheel.run=r")
    engine.remove_image("localhost/mw:k")
    argvs = recorder.argv()
    assert len(argvs) == 11
    assert all(argv[:3] == ["/usr/bin/docker", "--context", "armbox"] for argv in argvs)
    assert argvs[0][3:5] == ["run", "-i"]
    assert argvs[1][3:] == ["exec", "c1", "ls"]
    assert all(c.env is not None and c.env["HOME"] == "/home/u" for c in recorder.calls)


def test_a_tcp_builder_engine_sets_docker_host_and_tls_for_every_client(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    environ = {"PATH": "/usr/bin", "DOCKER_CERT_PATH": str(tmp_path), "DOCKER_HOST": "unix:///x"}
    engine = _builder_engine("tcp://10.0.0.2:2376", environ)
    engine.exec_("c", ["ls"], env={"TOKEN": "s3"}).communicate()
    engine.call(["version"])
    for call in recorder.calls:
        assert call.argv[:2] == ["/usr/bin/docker", call.argv[1]]
        assert call.env is not None
        assert call.env["DOCKER_HOST"] == "tcp://10.0.0.2:2376"
        assert call.env["DOCKER_TLS_VERIFY"] == "1"
        assert call.env["DOCKER_CERT_PATH"] == str(tmp_path)
    assert recorder.calls[0].env is not None
    assert recorder.calls[0].env["TOKEN"] == "s3"
    assert recorder.calls[1].env is not None
    assert "TOKEN" not in recorder.calls[1].env


def test_a_podman_builder_engine_names_its_connection_and_itself_in_errors(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    engine = _builder_engine("podman:big", {"PATH": "/usr/bin"})
    recorder.failures = {"pull": (125, "cannot connect\n")}
    with pytest.raises(EngineError, match=r"^podman \(builder big\) pull img failed \(exit 125\)"):
        engine.pull("img")
    engine.remove(["a"])
    assert recorder.argv()[-1] == [
        "/usr/bin/podman", "--connection", "big", "rm", "-f", "-v", "--time", "0", "--ignore", "a"
    ]  # fmt: skip


def test_a_builder_whose_client_is_missing_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match="needs the podman client"):
        _builder_engine("podman:big", {})


def test_the_local_engine_keeps_this_process_environment(recorder: Recorder) -> None:
    Engine("docker", "docker").call(["version"])
    assert recorder.calls[0].env is None
    assert recorder.calls[0].argv == ["docker", "version"]
