"""`manywheel doctor` on canned hosts: what each check finds, and the fix it prints."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import NamedTuple

import pytest

from manywheel._cli import doctor
from manywheel._cli.doctor import Check, diagnose
from manywheel._cli.main import main
from manywheel._engines.emulation import EMULATION_TIP
from manywheel._errors import EngineError
from manywheel._leftovers import Owner
from tests.unit.test_emulation import binfmt

GIB = 1024**3
IMAGE = "quay.io/pypa/manylinux_2_34_x86_64"


class Usage(NamedTuple):
    total: int
    used: int
    free: int


class FakeHost:
    """What doctor asks the host: which binaries exist, what commands answer, free disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.binaries = {"docker": "/usr/bin/docker", "podman": "/usr/bin/podman"}
        # " ".join(args without the binary) prefix -> (exit status, output)
        self.answers: dict[str, tuple[int, str]] = {
            "info --format {{json .}}": (0, "{}"),
            "info --format {{.DockerRootDir}}": (0, "/var/lib/docker"),
            "info --format {{.Store.GraphRoot}}": (0, "/var/lib/containers/storage"),
            "image inspect": (0, "[]"),
            "run --rm": (0, ""),
        }
        self.free = 50 * GIB
        self.reaped: list[tuple[str, Owner]] | Exception = []
        self.asked: list[list[str]] = []
        self.conf = tmp_path / "containers.conf"
        monkeypatch.setenv("CONTAINERS_CONF", str(self.conf))
        monkeypatch.setattr(doctor.shutil, "which", self.which)
        monkeypatch.setattr(doctor.shutil, "disk_usage", self.disk_usage)
        monkeypatch.setattr(doctor, "_run", self.run)
        monkeypatch.setattr(doctor, "reap_containers", self.reap)
        monkeypatch.setattr(doctor, "_hard_limits", lambda: {"nofile": 4096, "nproc": 8192})

    def which(self, name: str, *args: object, **kwargs: object) -> str | None:
        return self.binaries.get(name)

    def disk_usage(self, path: str | os.PathLike[str]) -> Usage:
        if self.free < 0:
            raise PermissionError(13, "Permission denied")
        return Usage(100 * GIB, 0, self.free)

    def run(self, args: list[str], timeout: float = 60.0) -> tuple[int, str]:
        self.asked.append(args)
        line = " ".join(args[1:])
        return next((v for k, v in self.answers.items() if line.startswith(k)), (0, ""))

    def reap(self, engine: object) -> list[tuple[str, Owner]]:
        if isinstance(self.reaped, Exception):
            raise self.reaped
        return self.reaped


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeHost:
    return FakeHost(monkeypatch, tmp_path)


def by_name(checks: list[Check], engine: str) -> dict[str, Check]:
    return {c.name: c for c in checks if c.engine == engine}


def test_a_healthy_engine_passes_every_check(host: FakeHost, tmp_path: Path) -> None:
    checks = diagnose(["docker"], IMAGE, tmp_path / "dist")
    assert [(c.engine, c.name, c.status) for c in checks] == [
        ("docker", "installed", "ok"),
        ("docker", "answers", "ok"),
        ("docker", "leftovers", "ok"),
        ("docker", "disk (image storage)", "ok"),
        ("docker", "image", "ok"),
        ("docker", "run", "ok"),
        ("host", "disk (output)", "ok"),
    ]
    assert checks[0].detail == "/usr/bin/docker"
    assert checks[3].detail == "50.0 GiB free in /var/lib/docker"
    # The output folder does not exist yet: its nearest existing parent is measured.
    assert checks[-1].detail == f"50.0 GiB free in {tmp_path}"
    assert ["/usr/bin/docker", "run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", "true"] in (
        host.asked
    )


@pytest.mark.parametrize(
    ("engine", "output", "name", "detail", "fix"),
    [
        ("docker", "Got permission denied while trying to connect to the Docker daemon socket",
         "access", "permission denied on the daemon socket", "add your user to the docker group"),
        ("docker", "Cannot connect to the Docker daemon. Is the docker daemon running?",
         "answers", "Is the docker daemon running?", "systemctl start docker"),
        ("podman", "Error: crun: creating cgroup: No such file", "answers",
         "Error: crun: creating cgroup: No such file", 'set runtime = "runc" under [engine]'),
        ("podman", "Error: OCI runtime: setrlimit `RLIMIT_NOFILE`: Operation not permitted",
         "answers", "Operation not permitted", "default_ulimits"),
        ("docker", "error: cgroup mountpoint does not exist", "answers", "cgroup mountpoint",
         "cgroup setup refuses containers"),
        ("podman", "write /var/tmp/x: no space left on device", "answers", "no space left",
         "free disk space where podman keeps its images"),
        ("podman", "first line\nsomething odd", "answers", "something odd",
         "`podman run --rm IMAGE true` reproduces it"),
        ("docker", "", "answers", "no answer", "reproduces it"),
    ],
)  # fmt: skip
def test_an_engine_that_does_not_answer_gets_the_fix_for_its_message(
    host: FakeHost, tmp_path: Path, *, engine: str, output: str, name: str, detail: str, fix: str
) -> None:
    host.answers["info --format {{json .}}"] = (1, output)
    checks = diagnose([engine], IMAGE, tmp_path)
    assert [c.name for c in checks if c.engine == engine] == ["installed", name]
    failed = checks[1]
    assert failed.status == "fail"
    assert detail in failed.detail
    assert fix in failed.fix
    # Nothing else is asked of an engine that does not answer.
    assert len(host.asked) == 1


def test_ulimit_fix_uses_this_hosts_hard_limits(host: FakeHost) -> None:
    assert "--default-ulimit nofile=4096:4096 --default-ulimit nproc=8192:8192" in (
        doctor._ulimit_fix("docker")
    )
    podman = doctor._ulimit_fix("podman")
    assert str(host.conf) in podman
    assert '["nofile=4096:4096", "nproc=8192:8192"]' in podman


def test_real_hard_limits_are_positive_numbers() -> None:
    limits = doctor._hard_limits()
    assert set(limits) == {"nofile", "nproc"}
    assert all(isinstance(v, int) and v > 0 for v in limits.values())


def test_missing_engines_say_how_to_install_them(host: FakeHost, tmp_path: Path) -> None:
    host.binaries = {}
    checks = diagnose(["docker", "podman"], IMAGE, tmp_path)
    missing = [c for c in checks if c.name == "installed"]
    assert [(c.engine, c.status) for c in missing] == [("docker", "fail"), ("podman", "fail")]
    assert "apt-get install docker.io" in missing[0].fix
    assert missing[1].fix == "apt-get install podman runc"
    assert host.asked == []


def test_podman_limits_above_the_hard_limit_and_a_container_that_will_not_start(
    host: FakeHost, tmp_path: Path
) -> None:
    host.conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1048576:1048576", "nproc=4096:4096"]\n'
    )
    host.answers["run --rm"] = (
        126,
        "Error: runc: setrlimit RLIMIT_NOFILE: operation not permitted",
    )
    checks = by_name(diagnose(["podman"], IMAGE, tmp_path), "podman")
    assert checks["ulimits"].status == "fail"
    assert "nofile=1048576:1048576, above this host's hard limit 4096" in checks["ulimits"].detail
    assert "nproc" not in checks["ulimits"].detail  # within the limit: no complaint
    assert checks["run"].status == "fail"
    assert checks["run"].detail.endswith("operation not permitted")
    assert "default_ulimits" in checks["run"].fix
    assert checks["disk (image storage)"].detail.endswith("/var/lib/containers/storage")


def test_an_unreadable_containers_conf_is_no_finding(host: FakeHost, tmp_path: Path) -> None:
    assert host.conf.exists() is False
    assert "ulimits" not in by_name(diagnose(["podman"], IMAGE, tmp_path), "podman")


def test_missing_image_is_a_warning_and_no_container_is_started(
    host: FakeHost, tmp_path: Path
) -> None:
    host.answers["image inspect"] = (1, "Error: No such image")
    checks = by_name(diagnose(["docker"], IMAGE, tmp_path), "docker")
    assert checks["image"].status == "warn"
    assert checks["image"].fix.startswith(f"docker pull {IMAGE}")
    assert "run" not in checks
    assert not any(a[1] == "run" for a in host.asked)


def test_a_container_failing_without_output_reports_its_exit(
    host: FakeHost, tmp_path: Path
) -> None:
    host.answers["run --rm"] = (125, "")
    run = by_name(diagnose(["docker"], IMAGE, tmp_path), "docker")["run"]
    assert (run.status, run.detail) == ("fail", "a container does not start: exit 125")


@pytest.mark.parametrize(
    ("reaped", "status", "detail"),
    [
        ([], "ok", "no containers left by killed manywheel runs"),
        ([("manywheel-a", Owner("h", "b", 1, "s")), ("manywheel-b", Owner("h", "b", 2, "s"))],
         "ok", "removed 2 container(s) left by killed runs: manywheel-a, manywheel-b"),
        (EngineError("inspect failed"), "warn",
         "could not look for leftover containers: inspect failed"),
    ],
)  # fmt: skip
def test_leftover_containers(
    host: FakeHost,
    tmp_path: Path,
    reaped: list[tuple[str, Owner]] | Exception,
    status: str,
    detail: str,
) -> None:
    host.reaped = reaped
    check = by_name(diagnose(["docker"], IMAGE, tmp_path), "docker")["leftovers"]
    assert (check.status, check.detail) == (status, detail)


@pytest.mark.parametrize(
    ("free", "status", "fix"),
    [
        (int(0.5 * GIB), "fail", "free space in"),
        (3 * GIB, "warn", "builds may need more than 3.0 GiB"),
        (5 * GIB, "ok", ""),
        (-1, "skip", ""),
    ],
)
def test_disk_space_thresholds(
    host: FakeHost, tmp_path: Path, free: int, status: str, fix: str
) -> None:
    host.free = free
    check = diagnose([], IMAGE, tmp_path)[0]
    assert (check.engine, check.name, check.status) == ("host", "disk (output)", status)
    assert check.fix.startswith(fix)
    if status == "skip":
        assert check.detail == f"{tmp_path}: Permission denied"


def test_an_output_folder_that_cannot_be_written(
    host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def writable(path: object, mode: int) -> bool:
        return Path(str(path)) != tmp_path

    monkeypatch.setattr(doctor.os, "access", writable)
    checks = diagnose([], IMAGE, tmp_path / "a" / "b" / "dist")
    assert checks[-1] == Check(
        "host", "output", "fail", f"{tmp_path} is not writable", "choose another --output-dir"
    )


def test_cli_doctor_prints_fixes_and_fails_on_a_problem(
    host: FakeHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host.answers["image inspect"] = (1, "")
    host.free = 3 * GIB
    assert main(["doctor", str(tmp_path), "--engine", "docker", "--image", "img:1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "docker  image                  WARN  img:1 is not present locally" in out
    assert any(line.strip().startswith("fix:  docker pull img:1") for line in out)
    assert out[-1] == "doctor: no problem found"  # warnings are no failure
    host.answers["info --format {{json .}}"] = (1, "Is the docker daemon running?")
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "doctor: 1 problem(s)"


def test_cli_doctor_auto_ignores_the_engine_that_is_not_used(
    host: FakeHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """auto: docker is broken but podman works, so a build works: no failure."""
    del host.binaries["docker"]
    (tmp_path / "pyproject.toml").write_text("[tool.manywheel]\njobs = [\n")  # broken TOML
    assert main(["doctor", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config: FAIL  ")
    assert "docker  installed              FAIL  docker is not on PATH" in out
    assert "podman  run                    OK    a container starts and runs" in out
    assert out.splitlines()[-1] == "doctor: no problem found"
    host.answers["run --rm"] = (1, "boom")  # now neither works: every failure counts
    assert main(["doctor", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "doctor: 2 problem(s)"


def test_run_helper_reports_missing_binary_and_timeout(tmp_path: Path) -> None:
    code, out = doctor._run([str(tmp_path / "no-such-binary")])
    assert code == 127
    assert "No such file" in out
    assert doctor._run(["sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, "out\nerr")
    assert doctor._run(["sleep", "5"], timeout=0.2) == (124, "no answer within 0 s")


def test_cli_doctor_with_libc_alone_checks_this_machines_image(
    host: FakeHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    (tmp_path / "pyproject.toml").write_text('[tool.manywheel]\nlibc = ["musllinux"]\n')
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 0
    out = capsys.readouterr().out
    assert "config: FAIL" not in out
    assert (
        "docker  image                  OK    quay.io/pypa/musllinux_1_2_x86_64 is present" in out
    )
    assert "host    arch x86_64            OK    runs natively on this x86_64" in out


def test_archs_get_a_row_each_and_a_foreign_one_needs_qemu(
    host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    folder = binfmt(tmp_path, mounted=False)
    checks = diagnose([], IMAGE, tmp_path, ("x86_64", "i686", "aarch64"), binfmt_dir=folder)
    assert checks[:3] == [
        Check("host", "arch x86_64", "ok", "runs natively on this x86_64"),
        Check("host", "arch i686", "ok", "runs natively on this x86_64"),
        Check(
            "host",
            "arch aarch64",
            "fail",
            "aarch64 needs emulation on this x86_64 machine, and binfmt_misc is not mounted",
            EMULATION_TIP,
        ),
    ]
    assert checks[3].name == "disk (output)"
    folder = binfmt(tmp_path)  # now mounted, qemu-aarch64 registered with F
    (arm,) = [c for c in diagnose([], IMAGE, tmp_path, ("aarch64",), binfmt_dir=folder)
              if c.name.startswith("arch")]  # fmt: skip
    assert arm == Check("host", "arch aarch64", "ok", "emulated by QEMU (binfmt_misc, F flag)")
    # Without archs: no row (single-image mode runs the image as it is).
    assert not [c for c in diagnose([], IMAGE, tmp_path, binfmt_dir=folder) if "arch" in c.name]


def fake_binfmt(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The CLI's doctor reads /proc/sys/fs/binfmt_misc: point it at ``folder``."""
    real = doctor.emulation_problem

    def problem(arch: str, *, binfmt_dir: Path) -> str | None:
        return real(arch, binfmt_dir=folder)

    monkeypatch.setattr(doctor, "emulation_problem", problem)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def test_cli_doctor_archs_flag_checks_emulation(
    host: FakeHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    fake_binfmt(monkeypatch, binfmt(tmp_path, flags="OC"))
    assert main(["doctor", str(project), "--engine", "docker", "--archs", "aarch64"]) == 1
    out = capsys.readouterr().out.splitlines()
    entry = tmp_path / "binfmt_misc" / "qemu-aarch64"
    assert (
        "host    arch aarch64           FAIL  aarch64 needs emulation: its QEMU entry "
        f"{entry} lacks the fix-binary (F) flag, so containers cannot use it"
    ) in out
    assert f"{'':7} {'':22} fix:  {EMULATION_TIP}" in out
    # The engine checks use the matrix's image (the aarch64 one).
    img = "quay.io/pypa/manylinux_2_34_aarch64"
    assert f"docker  image                  OK    {img} is present" in out
    assert out[-1] == "doctor: 1 problem(s)"
    binfmt(tmp_path)  # registered with F now
    assert main(["doctor", str(project), "--engine", "docker", "--archs", "x86_64",
                 "--archs", "aarch64"]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert "host    arch x86_64            OK    runs natively on this x86_64" in out
    assert "host    arch aarch64           OK    emulated by QEMU (binfmt_misc, F flag)" in out
    assert f"docker  image                  OK    {IMAGE} is present" in out


def test_cli_doctor_checks_the_configured_archs(
    host: FakeHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_binfmt(monkeypatch, binfmt(tmp_path, mounted=False))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.manywheel]\narchs = ["auto32", "armv7l"]\nlibc = ["manylinux", "musllinux"]\n'
    )
    assert main(["doctor", str(tmp_path), "--engine", "docker"]) == 1
    out = capsys.readouterr().out
    assert "host    arch i686              OK    runs natively on this x86_64" in out
    assert "host    arch armv7l            FAIL  armv7l needs emulation on this x86_64" in out
    assert out.count("arch ") == 2  # one row per architecture, not per platform
    # A word archs does not know: the config fails (said, as any broken configuration, not
    # counted as a problem of this machine), and no arch is checked.
    assert main(["doctor", str(tmp_path), "--engine", "docker", "--archs", "vax"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config: FAIL  command line: 'archs' has unknown architecture 'vax'")
    assert "arch " not in out.split("\n", 1)[1]
