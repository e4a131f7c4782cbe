"""Builders (``_builders``): the words of ``builders``, how each builder's client is addressed,
and what its engine's ``info`` says, with a fake runner (no engine)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from manywheel._builders import (
    Builder,
    discover_builder,
    parse_builders,
    run_client,
    tls_problem,
)
from manywheel._builders.discovery import INFO, parse_docker_info, parse_podman_info
from manywheel._builders.endpoint import is_loopback
from manywheel._engines.process import ExecResult
from manywheel._errors import ConfigError, EngineError
from tests.unit.test_emulation import binfmt

NO_TLS = (("DOCKER_TLS_VERIFY", None), ("DOCKER_TLS", None), ("DOCKER_CERT_PATH", None))

# `docker info --format '{{json .}}'` of a docker 27 daemon on an arm64 host (abridged: the
# fields and their shapes as docker prints them).
DOCKER_INFO = {
    "ID": "0c4b0c39-8f0b-4a49-9d0a-6a3f0c0b1c2d",
    "Containers": 2,
    "ContainersRunning": 0,
    "ContainersPaused": 0,
    "ContainersStopped": 2,
    "Images": 14,
    "Driver": "overlay2",
    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]},
    "MemoryLimit": True,
    "SwapLimit": True,
    "CpuCfsPeriod": True,
    "CpuCfsQuota": True,
    "KernelVersion": "6.1.0-28-arm64",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "OSVersion": "12",
    "OSType": "linux",
    "Architecture": "aarch64",
    "IndexServerAddress": "https://index.docker.io/v1/",
    "NCPU": 8,
    "MemTotal": 16663650304,
    "DockerRootDir": "/var/lib/docker",
    "Name": "arm-box",
    "Labels": [],
    "ExperimentalBuild": False,
    "ServerVersion": "27.3.1",
    "Runtimes": {"runc": {"path": "runc"}},
    "DefaultRuntime": "runc",
    "LiveRestoreEnabled": False,
    "Isolation": "",
    "InitBinary": "docker-init",
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
    "CgroupDriver": "systemd",
    "CgroupVersion": "2",
    "Warnings": None,
    "ClientInfo": {
        "Debug": False,
        "Version": "27.3.1",
        "GitCommit": "ce12230",
        "GoVersion": "go1.22.7",
        "Os": "linux",
        "Arch": "amd64",
        "BuildTime": "Fri Sep 20 11:40:59 2024",
        "Context": "default",
        "Plugins": [],
        "Warnings": None,
    },
}
# docker 23 and later when the daemon does not answer (exit status 1, JSON on stdout).
DOCKER_DOWN = {
    "ServerErrors": [
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker "
        "daemon running?"
    ],
    "ClientInfo": {"Debug": False, "Plugins": [], "Warnings": None},
}
# `podman info --format '{{json .}}'` of podman 5 on an amd64 host with QEMU registered
# (abridged). Its architecture is Go's name; emulatedArchitectures are OCI platforms.
PODMAN_INFO = {
    "host": {
        "arch": "amd64",
        "buildahVersion": "1.38.1",
        "cgroupManager": "systemd",
        "cgroupVersion": "v2",
        "cgroupControllers": ["cpu", "io", "memory", "pids"],
        "conmon": {"package": "conmon_2.1.12-3_amd64", "path": "/usr/bin/conmon", "version": "2.1.12"},
        "cpus": 4,
        "cpuUtilization": {"userPercent": 1.2, "systemPercent": 0.6, "idlePercent": 98.2},
        "databaseBackend": "sqlite",
        "distribution": {"distribution": "debian", "version": "13", "codename": "trixie"},
        "emulatedArchitectures": ["linux/arm", "linux/arm64", "linux/arm64be", "linux/ppc64le"],
        "eventLogger": "journald",
        "hostname": "x86-box",
        "kernel": "6.12.12-amd64",
        "logDriver": "journald",
        "memFree": 9238614016,
        "memTotal": 16663650304,
        "networkBackend": "netavark",
        "ociRuntime": {"name": "crun", "package": "crun_1.19.1-1_amd64", "path": "/usr/bin/crun", "version": "crun version 1.19.1"},
        "os": "linux",
        "remoteSocket": {"path": "/run/user/1000/podman/podman.sock", "exists": True},
        "rootlessNetworkCmd": "pasta",
        "serviceIsRemote": True,
        "security": {"apparmorEnabled": True, "capabilities": "CAP_CHOWN", "rootless": True,
                     "seccompEnabled": True, "seccompProfilePath": "", "selinuxEnabled": False},
        "swapFree": 0,
        "swapTotal": 0,
        "uptime": "72h 3m 1.00s (Approximately 3.00 days)",
        "variant": "",
        "linkmode": "dynamic",
    },
    "store": {"configFile": "/home/me/.config/containers/storage.conf", "graphDriverName": "overlay",
              "graphRoot": "/home/me/.local/share/containers/storage", "imageStore": {"number": 9}},
    "registries": {"search": ["docker.io"]},
    "plugins": {"volume": ["local"], "network": ["bridge", "macvlan"], "log": ["journald"],
                "authorization": None},
    "version": {"APIVersion": "5.4.2", "Version": "5.4.2", "GoVersion": "go1.24.1",
                "GitCommit": "", "BuiltTime": "Thu Mar 13 00:00:00 2025", "Built": 1741824000,
                "OsArch": "linux/amd64", "Os": "linux"},
}  # fmt: skip


class FakeRunner:
    """Answers each client call from ``answers`` (by engine: docker, podman), records it."""

    def __init__(self, **answers: tuple[int, str, str]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        self.calls.append((list(argv), dict(env)))
        return ExecResult(*self.answers.get(argv[0], (127, "", f"{argv[0]}: not found")))


def ok(data: object) -> tuple[int, str, str]:
    return 0, json.dumps(data), ""


def one(word: str, engine: str = "auto", **environ: str) -> Builder:
    (builder,) = parse_builders([word], engine=engine, environ=environ)
    return builder


def refused(word: str, engine: str = "auto") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_builders([word], engine=engine, environ={})
    return info.value


# -- the words ---------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "kind"), [("auto", None), ("docker", "docker"),
                                              ("podman", "podman"), ("host", None)])  # fmt: skip
def test_the_default_is_the_local_engine_alone(engine: str, kind: str | None) -> None:
    assert parse_builders((), engine=engine) == (Builder("local", "local", kind),)  # type: ignore[arg-type]
    assert one("local", engine).local


def test_contexts_and_connections_are_named_with_their_engine() -> None:
    assert one("docker:arm-box") == Builder(
        "arm-box", "docker:arm-box", "docker", ("--context", "arm-box")
    )
    assert one("podman:box_2") == Builder(
        "box_2", "podman:box_2", "podman", ("--connection", "box_2")
    )
    # A bare name belongs to the engine option's engine (docker for auto).
    assert one("arm-box").args == ("--context", "arm-box")
    assert one("arm-box", "podman").args == ("--connection", "arm-box")
    assert one("arm-box").argv("info") == ["docker", "--context", "arm-box", "info"]
    assert one("arm-box").env == ()  # --context wins over DOCKER_HOST and DOCKER_CONTEXT


def test_docker_over_ssh_is_docker_host() -> None:
    b = one("ssh://me@arm.example.org:2222")
    assert (b.name, b.engine, b.args) == ("arm.example.org:2222", "docker", ())
    assert b.env == (("DOCKER_HOST", "ssh://me@arm.example.org:2222"), *NO_TLS)
    assert one("docker:ssh://arm.example.org/").env[0] == ("DOCKER_HOST", "ssh://arm.example.org")
    assert one("ssh://[fd00::7]").name == "[fd00::7]"
    # What the client gets: the user's environment with the address set and TLS cleared.
    user = {"PATH": "/usr/bin", "DOCKER_TLS_VERIFY": "1", "DOCKER_HOST": "unix:///x.sock"}
    assert b.environment(user) == {
        "PATH": "/usr/bin",
        "DOCKER_HOST": "ssh://me@arm.example.org:2222",
    }
    assert b.command_line("info") == "DOCKER_HOST=ssh://me@arm.example.org:2222 docker info"


def test_podman_over_ssh_keeps_the_sockets_path() -> None:
    b = one("podman:ssh://core@box.example:22/run/user/1000/podman/podman.sock")
    assert (b.name, b.engine, b.env) == ("box.example:22", "podman", ())
    assert b.argv("info") == [
        "podman", "--url", "ssh://core@box.example:22/run/user/1000/podman/podman.sock", "info"
    ]  # fmt: skip
    # Without a port, 22 is written: podman 4 refuses an ssh address without one.
    b = one("ssh://box.example/run/podman/podman.sock", "podman")
    assert (b.name, b.engine) == ("box.example", "podman")
    assert b.args == ("--url", "ssh://box.example:22/run/podman/podman.sock")


@pytest.mark.parametrize("word", ["podman:ssh://box.example", "podman:ssh://me@box.example:22/"])
def test_podman_over_ssh_needs_the_sockets_path(word: str) -> None:
    """podman 4 connects to an empty socket path; podman 5 would ask the machine."""
    error = refused(word)
    assert str(error.message) == (
        f"'builders': {word} names no socket; podman's ssh:// address ends with the path of "
        "the podman socket on that machine"
    )
    assert "/run/podman/podman.sock" in str(error.tip)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"])
def test_plain_tcp_to_a_loopback_address(host: str) -> None:
    b = one(f"tcp://{host}:2375", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH="/certs")
    assert b.tls_dir is None
    assert b.env == (("DOCKER_HOST", f"tcp://{host}:2375"), *NO_TLS)
    assert b.name == f"{host}:2375"
    podman = one(f"podman:tcp://{host}:8888")
    assert podman.args == ("--url", f"tcp://{host}:8888")


def test_tcp_elsewhere_is_tls_with_the_users_certificates(tmp_path: Path) -> None:
    b = one("tcp://build.example.org:2376", DOCKER_CERT_PATH=str(tmp_path))
    assert b.tls_dir == tmp_path
    assert b.env == (
        ("DOCKER_HOST", "tcp://build.example.org:2376"),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_TLS", None),
        ("DOCKER_CERT_PATH", str(tmp_path)),
    )
    # docker's own defaults: DOCKER_CONFIG, else ~/.docker.
    assert one("tcp://10.1.2.3:2376", DOCKER_CONFIG="/cfg").tls_dir == Path("/cfg")
    assert one("tcp://10.1.2.3:2376", HOME="/home/me").tls_dir == Path("/home/me/.docker")
    # Not there yet is no error when the configuration is read: the first call says so.
    problem = tls_problem(b)
    assert problem == (
        f"builder build.example.org:2376 (tcp://build.example.org:2376) is reached over TLS with "
        f"the client certificates in {tmp_path}, which has no ca.pem, cert.pem, key.pem"
    )
    for name in ("ca.pem", "cert.pem"):
        (tmp_path / name).write_text("x")
    assert str(tls_problem(b)).endswith("which has no key.pem")
    (tmp_path / "key.pem").write_text("x")
    assert tls_problem(b) is None
    assert tls_problem(one("ssh://a.example")) is None


@pytest.mark.parametrize(
    ("word", "engine", "says"),
    [
        ("podman:tcp://10.0.0.5:8888", "auto", "is a podman service over plain TCP"),
        ("tcp://192.168.1.20:8888", "podman", "is a podman service over plain TCP"),
        ("tcp://build.example.org", "auto", "has no port"),
        ("tcp://me@10.0.0.5:2376", "auto", "has a user or a path"),
        ("tcp://10.0.0.5:2376/v1", "auto", "has a user or a path"),
        ("tcp://10.0.0.5:99999", "auto", "has a port that is not a number"),
        ("ssh://me:hunter2@arm.example", "auto", "has a password"),
        ("ssh://arm.example/run/docker.sock", "docker", "has a path; docker's ssh:// address"),
        ("ssh://arm.example?identity=/tmp/k", "auto", "has a query or fragment"),
        ("ssh://-oProxyCommand=touch%20x", "auto", "has no valid host name"),
        ("ssh://-oProxyCommand=x@arm.example", "auto", "has the user name"),
        ("ssh://", "auto", "has no valid host name"),
        ("unix:///run/docker.sock", "auto", "has the scheme unix://"),
        ("https://arm.example", "auto", "has the scheme https://"),
        ("docker:-H", "auto", "is not a builder"),
        ("podman:", "auto", "is not a builder"),
        ("arm box", "auto", "is not a builder"),
    ],
)  # fmt: skip
def test_what_is_refused_and_why(word: str, engine: str, says: str) -> None:
    error = refused(word, engine)
    assert error.message.startswith(f"'builders': {word} {says}"), error.message
    assert error.tip


def test_the_refusals_say_the_way_out() -> None:
    assert "ssh:// or a podman connection" in str(refused("podman:tcp://10.0.0.5:8888").tip)
    assert "~/.ssh, ssh-agent" in str(refused("ssh://me:pw@arm.example").tip)
    assert "2376" in str(refused("tcp://build.example.org").tip)
    assert "docker:NAME" in str(refused("unix:///run/docker.sock").tip)


def test_two_builders_of_one_name_and_host_mode_are_refused() -> None:
    with pytest.raises(
        ConfigError, match="two builders named arm-box: docker:arm-box and podman:arm-box"
    ):
        parse_builders(["docker:arm-box", "podman:arm-box"], environ={})
    with pytest.raises(ConfigError, match="two builders named local: local and local"):
        parse_builders(["local", "local"], environ={})
    with pytest.raises(ConfigError, match="names docker:arm-box, but engine = 'host'") as info:
        parse_builders(["local", "docker:arm-box"], engine="host", environ={})
    assert "engine = 'docker' or 'podman'" in str(info.value.tip)
    assert len(parse_builders(["local", "arm-box", "ssh://x86.example"], environ={})) == 3


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.255.0.9", True), ("::1", True), ("localhost", True),
     ("LOCALHOST.", True), ("::ffff:127.0.0.1", True), ("128.0.0.1", False), ("0.0.0.0", False),
     ("::", False), ("::ffff:10.0.0.1", False), ("localhost.example.org", False),
     ("10.0.0.1", False), ("127.1", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- what each builder is ------------------------------------------------------------------


def test_a_docker_builder_from_its_info() -> None:
    runner = FakeRunner(docker=ok(DOCKER_INFO))
    b = one("ssh://me@arm.example")
    facts = discover_builder(b, runner, environ={"PATH": "/bin", "DOCKER_TLS_VERIFY": "1"})
    assert runner.calls == [
        (["docker", *INFO], {"PATH": "/bin", "DOCKER_HOST": "ssh://me@arm.example"})
    ]
    assert (facts.builder, facts.version, facts.arch, facts.cpus) == (b, "27.3.1", "aarch64", 8)
    assert facts.emulated is None  # docker's info does not say: not known until tried
    assert [facts.way(a) for a in ("aarch64", "armv7l", "x86_64")] == [
        "native",
        "native",
        "unchecked",
    ]


def test_a_podman_builder_from_its_info() -> None:
    runner = FakeRunner(podman=ok(PODMAN_INFO))
    b = one("podman:x86-box")
    facts = discover_builder(b, runner, environ={})
    assert runner.calls[0][0] == ["podman", "--connection", "x86-box", *INFO]
    assert (facts.version, facts.arch, facts.cpus) == ("5.4.2", "x86_64", 4)
    # linux/arm64be is no wheel architecture; linux/arm is armv7l.
    assert facts.emulated == {"armv7l", "aarch64", "ppc64le"}
    assert [facts.way(a) for a in ("x86_64", "i686", "aarch64", "s390x")] == [
        "native", "native", "emulated", "no"
    ]  # fmt: skip
    # Without the list (nothing registered, or an older podman): not known.
    host = {k: v for k, v in PODMAN_INFO["host"].items() if k != "emulatedArchitectures"}  # type: ignore[attr-defined]
    facts = discover_builder(b, FakeRunner(podman=ok({**PODMAN_INFO, "host": host})), environ={})
    assert facts.emulated is None


def test_the_local_builder_reads_this_machines_binfmt_misc(tmp_path: Path) -> None:
    folder = binfmt(tmp_path, qemu="aarch64")
    binfmt(tmp_path, qemu="s390x", flags="OC")  # without F: containers cannot use it
    x86 = ok({**DOCKER_INFO, "Architecture": "x86_64"})
    facts = discover_builder(one("local", "docker"), FakeRunner(docker=x86), binfmt_dir=folder)
    assert facts.emulated == {"aarch64"}
    assert facts.way("s390x") == "no"
    # auto: docker if it answers, else podman (as a run picks the engine).
    runner = FakeRunner(docker=(1, json.dumps(DOCKER_DOWN), ""), podman=ok(PODMAN_INFO))
    facts = discover_builder(one("local"), runner, environ={}, binfmt_dir=folder)
    assert [argv[0] for argv, _ in runner.calls] == ["docker", "podman"]
    assert facts.builder.engine == "podman"
    assert facts.emulated == {"armv7l", "aarch64", "ppc64le"}  # podman's own answer


def test_a_builder_that_does_not_answer_is_named_with_the_reason() -> None:
    runner = FakeRunner(
        docker=(255, "", "ssh: connect to host arm.example port 22: No route to host\n")
    )
    with pytest.raises(EngineError) as info:
        discover_builder(one("ssh://me@arm.example"), runner, environ={})
    assert info.value.message == (
        "builder arm.example (ssh://me@arm.example) does not answer: ssh: connect to host "
        "arm.example port 22: No route to host"
    )
    assert info.value.tip == (
        "`DOCKER_HOST=ssh://me@arm.example docker info` shows the problem; ssh must log in "
        "without a prompt (your keys in ~/.ssh or ssh-agent)"
    )
    with pytest.raises(
        EngineError,
        match=r"docker: Cannot connect to the Docker daemon.*; podman: podman: not found",
    ):
        discover_builder(
            one("local"), FakeRunner(docker=(1, json.dumps(DOCKER_DOWN), "")), environ={}
        )
    # An old docker that exits 0 with ServerErrors.
    with pytest.raises(EngineError, match="does not answer: Cannot connect"):
        discover_builder(one("docker:x"), FakeRunner(docker=ok(DOCKER_DOWN)), environ={})


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (ok({**DOCKER_INFO, "OSType": "windows"}), "it runs windows containers"),
        ((0, "Client: Docker Engine - Community\n", ""), "its info is not JSON: 'Client: Docker"),
        (ok([1, 2]), "its info is not JSON"),
        (ok({**DOCKER_INFO, "NCPU": 0}), "its info gives no number of CPUs"),
        (ok({**DOCKER_INFO, "Architecture": ""}), "its info names no architecture"),
        ((1, "", ""), "exit status 1"),
    ],
)
def test_an_info_manywheel_cannot_use(answer: tuple[int, str, str], says: str) -> None:
    with pytest.raises(EngineError) as info:
        discover_builder(one("docker:x"), FakeRunner(docker=answer), environ={})
    assert info.value.message.startswith("builder x (docker:x) does not answer: " + says)
    assert info.value.tip == "`docker --context x info` shows the problem"


def test_podman_info_without_a_host_is_refused() -> None:
    with pytest.raises(EngineError, match="its info has no host"):
        discover_builder(one("podman:x"), FakeRunner(podman=ok({"version": {}})), environ={})


def test_tls_certificates_are_checked_before_the_call(tmp_path: Path) -> None:
    runner = FakeRunner(docker=ok(DOCKER_INFO))
    b = one("tcp://build.example.org:2376", DOCKER_CERT_PATH=str(tmp_path))
    with pytest.raises(EngineError, match=r"which has no ca\.pem, cert\.pem, key\.pem") as info:
        discover_builder(b, runner, environ={})
    assert runner.calls == []
    assert "DOCKER_CERT_PATH" in str(info.value.tip)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    env = discover_builder(b, runner, environ={}).builder.environment({})
    assert runner.calls[0][1] == env
    assert env["DOCKER_TLS_VERIFY"] == "1"
    assert env["DOCKER_CERT_PATH"] == str(tmp_path)
    # A daemon on that port without TLS: the message says why manywheel will not go plain.
    plain = FakeRunner(
        docker=(
            1,
            "",
            'error during connect: Get "https://build.example.org:2376/v1.47/info": http: server gave HTTP response to HTTPS client',
        )
    )
    with pytest.raises(EngineError, match="that daemon does not speak TLS, and manywheel reaches"):
        discover_builder(b, plain, environ={})


def test_the_info_parsers_take_what_they_need() -> None:
    docker = parse_docker_info(json.dumps(DOCKER_INFO))
    assert (docker.version, docker.os, docker.arch, docker.cpus, docker.emulated) == (
        "27.3.1", "linux", "aarch64", 8, None
    )  # fmt: skip
    podman = parse_podman_info(json.dumps(PODMAN_INFO))
    assert (podman.version, podman.os, podman.arch, podman.cpus) == ("5.4.2", "linux", "amd64", 4)
    unknown = parse_docker_info(json.dumps({**DOCKER_INFO, "ServerVersion": None}))
    assert unknown.version == "unknown"


def test_the_real_runner_gives_the_client_its_environment_and_never_raises() -> None:
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": "ssh://me@arm.example"}
    result = run_client(["sh", "-c", 'echo "$DOCKER_HOST"; echo oops >&2; exit 3'], env)
    assert result == ExecResult(3, "ssh://me@arm.example\n", "oops\n")
    assert run_client(["sh", "-c", "cat; echo read nothing"], env).stdout == "read nothing\n"
    missing = run_client(["/no/such/docker", "info"], env)
    assert missing.returncode == 127
    assert "/no/such/docker" in missing.stderr
