"""The fault matrix: each fault injected for real (real engines, real processes, real signals)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from manywheel._engines.container import Engine, ProcessRegistry
from manywheel._lock import lock_file
from tests.conftest import EXAMPLES, FIXTURE_IMAGE, OUTPUTS, ROOT, engine_or_skip
from tests.integration.helpers import leftover_containers, manywheel, tree_digest, wheels

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
Example = Callable[[str], Path]


def start(
    project: Path, engine: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    # As a terminal's foreground job would: when the tests run as a background job, SIGINT
    # arrives ignored, and a program rightly keeps an inherited SIG_IGN. exec keeps SIG_DFL.
    foreground = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.executable, [sys.executable, '-m', 'manywheel', *sys.argv[1:]])"
    )
    cmd = [sys.executable, "-c", foreground, "build", str(project), "--engine", engine]
    cmd += ["--image", FIXTURE_IMAGE, "--pull", "never", "--log-dir", str(project.parent / "logs")]
    return subprocess.Popen(
        [*cmd, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_lines(
    proc: subprocess.Popen[str], needle: str, count: int, timeout: float = 300
) -> list[str]:
    """Read stderr until ``needle`` was seen ``count`` times."""
    assert proc.stderr is not None
    seen: list[str] = []
    hits = 0
    deadline = time.monotonic() + timeout
    while hits < count:
        assert time.monotonic() < deadline, (
            "timed out waiting for: " + needle + "\n" + "".join(seen)
        )
        line = proc.stderr.readline()
        assert line, "manywheel ended early:\n" + "".join(seen)
        seen.append(line)
        hits += needle in line
    return seen  # the rest is small: the caller's communicate()/wait() drains it


def sleepy_run(project: Path, engine: str) -> subprocess.Popen[str]:
    """A run whose three targets all sit in their build step."""
    env = {"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"}
    proc = start(project, engine, "-v", "--jobs", "3", env=env)
    wait_for_lines(proc, "scripted: sleeping", 3)
    return proc


def holds_the_lock(proc: subprocess.Popen[str], output_dir: Path, timeout: float = 120) -> None:
    """Wait until ``proc`` holds the lock of ``output_dir`` (its pid is in the lock file)."""
    path = lock_file(output_dir)
    deadline = time.monotonic() + timeout
    while not (path.is_file() and path.read_text() == f"pid {proc.pid}"):
        assert proc.poll() is None, "manywheel ended early"
        assert time.monotonic() < deadline, "the run never took its output folder's lock"
        time.sleep(0.1)


def with_old_output(project: Path) -> str:
    dist = project / "dist"
    dist.mkdir()
    (dist / "old-1.0-py3-none-any.whl").write_bytes(b"an older wheel, kept as is")
    return tree_digest(dist, skip=())


@pytest.mark.parametrize(
    ("signals", "code"),
    [((signal.SIGINT,), 130), ((signal.SIGTERM,), 143), ((signal.SIGINT, signal.SIGINT), 130)],
    ids=["sigint", "sigterm", "double-ctrl-c"],
)
def test_interrupt_removes_containers_and_keeps_output(
    engine: str, example: Example, signals: tuple[int, ...], code: int
) -> None:
    project = example("scripted")
    before = with_old_output(project)
    proc = start(project, engine, "-v", env={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=600"})
    wait_for_lines(proc, "scripted: sleeping", 2)  # two targets (2 cores) are in their build
    sent = time.monotonic()
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.3)
    rc = proc.wait(timeout=30)
    took = time.monotonic() - sent
    assert rc == code
    assert took < 10, f"cleanup took {took:.1f} s"
    assert leftover_containers(engine, project) == []
    assert tree_digest(project / "dist", skip=()) == before
    assert not list(project.parent.glob(".manywheel-staging-*"))


def test_one_target_fails_the_others_land(engine: str, example: Example) -> None:
    project = example("scripted")
    r = manywheel(project, engine, env={"MANYWHEEL_ENVIRONMENT": "MW_FAIL_FOR=3.14"})
    assert r.returncode == 1, r.stdout + r.stderr
    names = [w.name for w in wheels(project)]
    assert len(names) == 2
    assert any("-cp313-" in n for n in names)
    assert any("-cp315-" in n for n in names)
    assert "cp314-manylinux_x86_64 failed: build step failed" in r.stdout
    assert "scripted: failing on purpose for 3.14" in r.stdout  # the log tail
    log_line = next(line for line in r.stdout.splitlines() if "full log:" in line)
    log = Path(log_line.split("full log:", 1)[1].strip())
    assert "failing on purpose" in log.read_text()
    assert leftover_containers(engine, project) == []


def test_container_killed_from_outside(engine: str, example: Example) -> None:
    project = example("scripted")
    before = with_old_output(project)
    proc = sleepy_run(project, engine)
    now = ["--time", "0"] if engine == "podman" else []  # docker's rm -f kills at once
    for name in leftover_containers(engine, project):
        subprocess.run([engine, "rm", "-f", *now, name], capture_output=True, check=False)
    out, _ = proc.communicate(timeout=120)  # bounded: no hang
    assert proc.returncode == 1
    assert "failed" in out
    assert tree_digest(project / "dist", skip=()) == before
    assert leftover_containers(engine, project) == []


def test_two_runs_at_once_never_mix_output(engine: str, example: Example) -> None:
    project = example("scripted")
    first = start(project, engine, env={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=5"})
    holds_the_lock(first, project / "dist")
    second = start(project, engine, "--force", env={"MANYWHEEL_ENVIRONMENT": "MW_SLEEP=5"})
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, out1 + err1
    assert second.returncode == 0, out2 + err2
    assert "waiting for it" in err2
    assert len(wheels(project)) == 3


def test_hostile_wheel_names_are_rejected(engine: str, example: Example, tmp_path: Path) -> None:
    project = example("scripted")
    # A repair step that leaves a wheel in a sub-folder, a link to a host path, and garbage.
    hostile = (
        "auditwheel repair -w {dest_dir} {wheel} && mkdir -p {dest_dir}/sub && "
        "cp {dest_dir}/*.whl {dest_dir}/sub/ && ln -s /etc/passwd {dest_dir}/link-1.0-py3-none-any.whl"
    )
    r = manywheel(project, engine, "--repair-command", hostile, "--python", "3.13")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "wheel check failed" in r.stdout
    assert "not a regular file" in r.stdout
    assert wheels(project) == []
    assert not list(tmp_path.rglob("link-1.0-py3-none-any.whl"))
    garbage = "mkdir -p {dest_dir} && head -c 300 /dev/urandom > {dest_dir}/x-1.0-cp313-cp313-manylinux_2_5_x86_64.whl"
    r = manywheel(project, engine, "--repair-command", garbage, "--python", "3.13")
    assert r.returncode == 1
    assert "not a valid wheel archive" in r.stdout
    assert wheels(project) == []


def test_hostile_tar_stream_writes_nothing_outside(
    engine: str, example: Example, tmp_path: Path
) -> None:
    """The container's own tar answers with ../ and absolute member names: all rejected."""
    project = example("scripted")
    setup = r"""
cat > /usr/local/lib/hostile_tar.py <<'PY'
import io, sys, tarfile
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
    for name in ("../escape-1.0-py3-none-any.whl", "/abs-1.0-py3-none-any.whl", "./ok/../../up.whl"):
        data = b"PK"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
PY
cat > /usr/local/bin/tar <<'SH'
#!/bin/sh
if [ "$1 $3 $4" = "-cf -C /manywheel/out" ]; then exec python3.13 /usr/local/lib/hostile_tar.py; fi
exec /usr/bin/tar "$@"
SH
chmod +x /usr/local/bin/tar
"""
    r = manywheel(project, engine, "--setup-script", setup, "--python", "3.13")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "not a plain *.whl name" in r.stdout
    assert wheels(project) == []
    for name in ("escape-1.0-py3-none-any.whl", "abs-1.0-py3-none-any.whl", "up.whl"):
        assert not list(tmp_path.rglob(name))
        assert not Path("/", name).exists()


def test_secrets_never_reach_logs(engine: str, example: Example, tmp_path: Path) -> None:
    """A literal, a host and a computed secret (read from a project file in the container,
    two lines long): masked in the output, the logs, the summary's tail, the report, and
    GitHub's log groups, annotations and step summary."""
    project = example("scripted")
    token, host_secret = secrets.token_hex(12), secrets.token_hex(12)
    computed = [secrets.token_hex(12), secrets.token_hex(12)]
    (project / "token.txt").write_text("\n".join(computed) + "\n")
    env = {
        "MANYWHEEL_ENVIRONMENT": f'API_TOKEN="{token}" DB_PASSWORD="$(cat /project/token.txt)" '
        "MW_SAY='token=$API_TOKEN other=$MY_SECRET db=$DB_PASSWORD'",
        "MANYWHEEL_SECRET_ENVIRONMENT": "MY_SECRET",
        "MY_SECRET": host_secret,
    }
    r = manywheel(project, engine, "-v", "--python", "3.13", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "scripted: token=*** other=*** db=***" in r.stderr
    logs = "".join(p.read_text() for p in (project.parent / "logs").rglob("*.log"))
    assert "token=*** other=*** db=***" in logs
    # A failing repair step, rendered for GitHub Actions.
    summary = tmp_path / "step-summary.md"
    github = {
        **env,
        "MANYWHEEL_REPAIR_COMMAND": 'echo "repair: $DB_PASSWORD $API_TOKEN"; exit 5',
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    failed = manywheel(project, engine, "--python", "3.13", "--force", env=github)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "  | repair: ***" in failed.stdout  # the tail of the failed target's log
    assert "::error title=" in failed.stderr
    assert "scripted: token=*** other=*** db=***" in failed.stderr  # the log's group
    assert "failed" in summary.read_text()
    reports = "".join(p.read_text() for p in (project.parent / "logs").rglob("report.json"))
    assert "repair step failed" in reports
    logs = "".join(p.read_text() for p in (project.parent / "logs").rglob("*.log"))
    outputs = [r.stdout, r.stderr, failed.stdout, failed.stderr, logs, reports, summary.read_text()]
    for text in outputs:
        for secret in (token, host_secret, *computed):
            assert secret not in text
    plan = manywheel(project, engine, command="plan", env=env)
    assert "('API_TOKEN', '***')" in plan.stdout
    assert token not in plan.stdout + plan.stderr


def test_host_tree_is_never_modified(engine: str, example: Example) -> None:
    project = example("fortran-meson")
    before = tree_digest(project)
    r = manywheel(project, engine, "--python", "3.13")
    assert r.returncode == 0, r.stdout + r.stderr
    assert tree_digest(project) == before


def test_missing_image_is_a_clear_engine_error(engine: str, example: Example) -> None:
    project = example("c-extension")
    r = manywheel(project, engine, "--image", "localhost/manywheel-no-such-image:1")
    assert r.returncode == 4, r.stderr
    assert "localhost/manywheel-no-such-image:1" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def as_nobody(tmp_path: Path):  # type: ignore[no-untyped-def]
    """run(*manywheel_args) as user nobody, in a folder nobody may use (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user")
    home = Path(tempfile.mkdtemp(prefix="mw-nobody-", dir="/var/tmp"))
    shutil.copytree(EXAMPLES / "c-extension", home / "c-extension", ignore=OUTPUTS)
    subprocess.run(["chmod", "-R", "a+rwX", str(home)], check=True)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
             sys.executable, "-m", "manywheel", *args],
            capture_output=True, text=True, check=False, timeout=120, cwd=home,
            env={**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
        )  # fmt: skip

    yield run
    shutil.rmtree(home, ignore_errors=True)


def test_docker_permission_denied(as_nobody) -> None:  # type: ignore[no-untyped-def]
    engine_or_skip("docker")  # the daemon socket's permissions are docker's
    r = as_nobody("build", "c-extension", "--engine", "docker")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "permission denied" in r.stderr
    assert "docker group" in r.stderr


def doctor(
    engine: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manywheel", "doctor", "--engine", engine, "--image", FIXTURE_IMAGE, *args],
        capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_doctor_healthy(engine: str, tmp_path: Path) -> None:
    r = doctor(engine, str(tmp_path))
    assert r.returncode == 0, r.stdout
    assert "run                    OK" in r.stdout
    assert "doctor: no problem found" in r.stdout


def test_doctor_missing_image(engine: str, tmp_path: Path) -> None:
    r = doctor(engine, str(tmp_path), "--image", "localhost/manywheel-no-such-image:1")
    assert "is not present locally" in r.stdout
    assert "pull localhost/manywheel-no-such-image:1" in r.stdout


@pytest.mark.parametrize(
    ("conf", "problem", "fix"),
    [
        ('[containers]\ndefault_ulimits = ["nofile=999999:999999"]\n[engine]\nruntime = "runc"\n',
         "above this host's hard limit", "default_ulimits"),
        ('[containers]\ndefault_ulimits = ["nofile=16384:16384"]\n[engine]\nruntime = "crun-not-here"\n',
         'runtime "crun-not-here" not found', 'runtime = "runc"'),
    ],
    ids=["ulimits-above-hard-limit", "bad-runtime"],
)  # fmt: skip
def test_doctor_diagnoses_podman_config(tmp_path: Path, conf: str, problem: str, fix: str) -> None:
    engine = engine_or_skip("podman")  # containers.conf is podman's
    path = tmp_path / "containers.conf"
    path.write_text(conf)
    r = doctor(engine, str(tmp_path), env={"CONTAINERS_CONF": str(path)})
    assert r.returncode == 1, r.stdout
    assert problem in r.stdout
    assert fix in r.stdout


def test_doctor_permission_denied(as_nobody) -> None:  # type: ignore[no-untyped-def]
    engine_or_skip("docker")  # the daemon socket's permissions are docker's
    r = as_nobody("doctor", "c-extension", "--engine", "docker")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "permission denied" in r.stdout
    assert "docker group" in r.stdout


@pytest.fixture
def mount_point(tmp_path: Path):  # type: ignore[no-untyped-def]
    """mount(kind) -> a folder that is a read-only bind mount or a 4 KiB tmpfs (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only or full file system")
    mounted: list[Path] = []

    def mount(kind: str) -> Path:
        path = tmp_path / kind
        path.mkdir()
        if kind == "read-only":
            subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        else:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(path)], check=True
            )
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", str(path)], check=False)


def test_output_dir_read_only(engine: str, example: Example, mount_point) -> None:  # type: ignore[no-untyped-def]
    project = example("c-extension")
    out = mount_point("read-only")
    r = manywheel(project, engine, "--output-dir", str(out))
    assert r.returncode == 5, r.stdout + r.stderr
    assert f"output folder {out} is not writable" in r.stderr
    assert "Traceback" not in r.stderr
    assert leftover_containers(engine, project) == []


def test_output_disk_full_keeps_wheels_recoverable(
    engine: str, example: Example, mount_point
) -> None:  # type: ignore[no-untyped-def]
    project = example("c-extension")
    out = mount_point("full")
    r = manywheel(project, engine, "--output-dir", str(out))
    assert r.returncode == 5, r.stdout + r.stderr
    assert "could not write the wheels" in r.stderr
    assert list(out.iterdir()) == []  # no partial file
    kept = Path(r.stderr.split("the built wheels are kept in ", 1)[1].split(";", 1)[0])
    assert len(list(kept.rglob("*.whl"))) == 3
    assert leftover_containers(engine, project) == []


def test_removing_containers_skips_a_name_already_gone(engine: str) -> None:
    """A cleanup's list can name a container that ended meanwhile: the others still go. (podman
    4.3's `rm -f` with one missing name removes none of them and exits 0.)"""
    names = [f"mw-test-rm-{secrets.token_hex(3)}" for _ in range(2)]
    for name in names:
        subprocess.run(
            [engine, "run", "-d", "--name", name, "--entrypoint", "/bin/sh", FIXTURE_IMAGE,
             "-c", "sleep 600"],
            check=True, capture_output=True,
        )  # fmt: skip
    try:
        Engine(engine, engine, ProcessRegistry()).remove([names[0], "mw-test-gone", names[1]])
        for name in names:
            r = subprocess.run([engine, "inspect", name], capture_output=True, check=False)
            assert r.returncode != 0, f"{name} is still there"
    finally:
        for name in names:
            subprocess.run([engine, "rm", "-f", name], capture_output=True, check=False)
