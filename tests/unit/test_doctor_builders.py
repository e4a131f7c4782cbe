"""`manywheel doctor` on builders other than this machine's engine, with a fake client
runner: TLS certificates, the engine's answer, its platforms, each image of the run."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from manywheel._builders import Builder
from manywheel._cli import doctor
from manywheel._cli.doctor import Check, check_builder, diagnose
from manywheel._cli.main import main
from manywheel._engines.emulation import EMULATION_TIP
from manywheel._engines.process import ExecResult
from tests.unit.test_builders import DOCKER_INFO, PODMAN_INFO, one
from tests.unit.test_doctor import FakeHost

ARM = "localhost/fixture:arm64"
X86 = "localhost/fixture:amd64"
Answer = Callable[[list[str]], tuple[int, str, str]]


class Client:
    """A builder's client: ``info`` gives ``info``; ``image inspect`` finds ``present``;
    ``run`` prints the architecture the run asked for, or what ``run`` says."""

    def __init__(
        self,
        info: object,
        present: Sequence[str] = (ARM, X86),
        run: Answer | None = None,
    ) -> None:
        self.info, self.present, self.run = info, present, run
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        args = list(argv)
        self.calls.append((args, dict(env)))
        if "info" in args:
            return ExecResult(0, json.dumps(self.info), "")
        if "inspect" in args:
            found = args[-1] in self.present
            return ExecResult(
                0 if found else 1, "[]" if found else "", "" if found else "no such image"
            )
        if "run" in args:
            if self.run is not None:
                return ExecResult(*self.run(args))
            oci = args[args.index("--platform") + 1] if "--platform" in args else "linux/arm64"
            arch = {"linux/arm64": "aarch64", "linux/amd64": "x86_64", "linux/386": "i686"}[oci]
            return ExecResult(0, arch + "\n", "")
        return ExecResult(127, "", "unexpected")


def named(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_docker_builder_that_runs_its_own_and_an_emulated_architecture() -> None:
    client = Client(DOCKER_INFO)  # an arm64 host
    b = one("ssh://me@arm.example")
    checks = named(check_builder(b, [("aarch64", ARM), ("x86_64", X86)], runner=client, environ={}))
    assert all(c.engine == b.name for c in checks.values())
    assert checks["answers"].status == "ok"
    assert "aarch64" in checks["answers"].detail
    assert "ssh://me@arm.example" in checks["answers"].detail
    assert "not known until tried" in checks["platforms"].detail
    assert checks["image aarch64"].status == "ok"
    assert "runs as aarch64 (natively)" in checks["image aarch64"].detail
    assert "runs as x86_64 (under QEMU)" in checks["image x86_64"].detail
    runs = [argv for argv, _ in client.calls if "run" in argv]
    assert runs[1][:5] == ["docker", "run", "--rm", "--platform", "linux/amd64"]
    # Every call goes to that builder: its DOCKER_HOST, never the local daemon.
    assert all(env.get("DOCKER_HOST") == "ssh://me@arm.example" for _, env in client.calls)


def test_thirty_two_bit_targets_are_run_through_linux32() -> None:
    client = Client({**DOCKER_INFO, "Architecture": "x86_64"})
    checks = named(check_builder(one("docker:big"), [("i686", X86)], runner=client, environ={}))
    (run,) = [argv for argv, _ in client.calls if "run" in argv]
    assert run[:4] == ["docker", "--context", "big", "run"]
    assert run[-1] == "linux32 uname -m"
    assert checks["image i686"].status == "ok"


def test_an_architecture_the_engine_cannot_run_is_a_warning_and_not_tried() -> None:
    info = {
        **PODMAN_INFO,
        "host": {**PODMAN_INFO["host"], "emulatedArchitectures": ["linux/ppc64le"]},
    }  # type: ignore[dict-item]
    client = Client(info)
    checks = named(
        check_builder(one("podman:x86-box"), [("aarch64", ARM)], runner=client, environ={})
    )
    assert "under QEMU: ppc64le" in checks["platforms"].detail
    c = checks["image aarch64"]
    assert c.status == "warn"
    assert "runs no aarch64" in c.detail
    assert c.fix == "on that host, " + EMULATION_TIP
    assert not [argv for argv, _ in client.calls if "run" in argv]


def test_podman_lists_what_it_emulates() -> None:
    checks = named(
        check_builder(
            one("podman:x86-box"), [("aarch64", ARM)], runner=Client(PODMAN_INFO), environ={}
        )
    )
    assert "x86_64 natively; under QEMU: aarch64, armv7l, ppc64le" in checks["platforms"].detail
    assert checks["image aarch64"].status == "ok"


def test_an_image_the_builder_lacks_is_a_warning_with_the_pull_command() -> None:
    client = Client(DOCKER_INFO, present=())
    c = named(check_builder(one("docker:arm"), [("aarch64", ARM)], runner=client, environ={}))[
        "image aarch64"
    ]
    assert c.status == "warn"
    assert "not on this builder" in c.detail
    assert c.fix.startswith(f"`docker --context arm pull {ARM}`")
    assert not [argv for argv, _ in client.calls if "run" in argv]  # nothing pulled or run


@pytest.mark.parametrize(
    ("answer", "says", "fix"),
    [
        (
            (1, "", "exec /bin/sh: exec format error"),
            "exec format error",
            "on that host, " + EMULATION_TIP,
        ),
        (
            (0, "x86_64\n", ""),
            "says uname -m = x86_64",
            f"check that {ARM} is an image for aarch64",
        ),
        ((125, "", "no space left on device"), "no space left on device", "free disk space"),
    ],
)
def test_a_container_that_does_not_run_as_asked(
    answer: tuple[int, str, str], says: str, fix: str
) -> None:
    client = Client({**DOCKER_INFO, "Architecture": "x86_64"}, run=lambda argv: answer)
    c = named(check_builder(one("docker:x"), [("aarch64", ARM)], runner=client, environ={}))[
        "image aarch64"
    ]
    assert c.status == "fail"
    assert says in c.detail
    assert c.fix.startswith(fix)


def test_missing_tls_certificates_stop_the_checks_before_any_call(tmp_path: Path) -> None:
    b = one("tcp://build.example.org:2376", DOCKER_CERT_PATH=str(tmp_path))
    client = Client(DOCKER_INFO)
    (c,) = check_builder(b, [("aarch64", ARM)], runner=client, environ={})
    assert (c.name, c.status) == ("tls", "fail")
    assert "ca.pem" in c.detail
    assert client.calls == []
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    checks = named(check_builder(b, [("aarch64", ARM)], runner=client, environ={}))
    assert checks["tls"].status == "ok"
    assert str(tmp_path) in checks["tls"].detail
    assert all(env["DOCKER_TLS_VERIFY"] == "1" for _, env in client.calls)


def test_a_builder_that_does_not_answer_is_one_failure_with_its_tip() -> None:
    def down(argv: Sequence[str], env: Mapping[str, str]) -> ExecResult:
        return ExecResult(255, "", "ssh: connect to host arm.example port 22: Connection refused")

    (c,) = check_builder(one("ssh://me@arm.example"), [("aarch64", ARM)], runner=down, environ={})
    assert (c.name, c.status) == ("answers", "fail")
    assert "Connection refused" in c.detail
    assert "ssh" in c.fix


def test_diagnose_checks_the_builders_that_are_not_this_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[str, list[tuple[str | None, str]]]] = []

    def fake(builder: object, images: list[tuple[str | None, str]], **kw: object) -> list[Check]:
        seen.append((builder.name, images))  # type: ignore[attr-defined]
        return [Check(builder.name, "answers", "ok", "")]  # type: ignore[attr-defined]

    monkeypatch.setattr(doctor, "check_builder", fake)
    builders = [one("local"), one("docker:arm")]
    checks = diagnose([], X86, tmp_path, builders=builders)
    assert seen == [("arm", [(None, X86)])]
    assert [c.engine for c in checks if c.name == "answers"] == ["arm"]


def test_cli_doctor_counts_a_builders_failure_and_not_an_unused_local_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = FakeHost(monkeypatch, tmp_path)
    host.answers["run --rm"] = (1, "boom")  # this machine's engine cannot run a container
    seen: list[str] = []

    def fake(builder: Builder, images: object, **kw: object) -> list[Check]:
        seen.append(builder.endpoint)
        status = "fail" if builder.name == "down" else "ok"
        return [Check(builder.name, "answers", status, "said so", "a fix")]

    monkeypatch.setattr(doctor, "check_builder", fake)
    monkeypatch.setenv("MANYWHEEL_BUILDERS", "docker:up")
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 0  # local is not a builder
    out = capsys.readouterr().out.splitlines()
    assert "up      answers                OK    said so" in out
    assert out[-1] == "doctor: no problem found"
    monkeypatch.setenv("MANYWHEEL_BUILDERS", "docker:up docker:down local")
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "doctor: 2 problem(s)"
    assert seen == ["docker:up", "docker:up", "docker:down"]
