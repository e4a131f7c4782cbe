"""Adoption features for real: export to plain docker, CI matrix + merge, GitHub Actions output,
the live display under a pseudo-terminal, and host mode (no container engine at all)."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import manywheel as manywheel_api
from tests.conftest import EXAMPLES, FIXTURE_IMAGE, OUTPUTS, ROOT, engine_or_skip
from tests.integration.helpers import manywheel, tree_digest, wheels
from tests.readme import readme_python_block

Example = Callable[[str], Path]
PYTHONS = ("cp313", "cp314", "cp315")


def containers(engine: str, label: str) -> list[str]:
    out = subprocess.run(
        [engine, "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()


def export(project: Path, engine: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "manywheel", "export", "docker", str(project), "--engine", engine,
           "--image", FIXTURE_IMAGE, "--pull", "never"]  # fmt: skip
    return subprocess.run(
        cmd, capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **env}
    )


@pytest.mark.engine
def test_export_docker_builds_like_manywheel_and_cleans_up(engine: str, example: Example) -> None:
    project = example("scripted")
    # Host-only folders the copy must leave out, as manywheel build does: an environment,
    # bytecode, a cache-dir inside the project, the export folder itself and the output folder.
    for junk in (".venv/bin/python", "src/__pycache__/x.pyc", "build-cache/uv/x", "dist/old.txt"):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("host only\n")
    absent = ".venv src/__pycache__ build-cache manywheel-export dist"
    token = "tok-" + os.urandom(8).hex()
    env = {
        "MANYWHEEL_ENVIRONMENT": f"API_TOKEN={token} MW_SAY='hi $API_TOKEN'",
        "MANYWHEEL_CACHE_DIR": str(project / "build-cache"),
        "MANYWHEEL_BEFORE_BUILD": f"for p in {absent}; do test ! -e $p || exit 7; done",
    }
    temporary = set(Path("/var/tmp").iterdir())  # where podman keeps its temporary files
    r = export(project, engine, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = project / "manywheel-export"
    assert (folder / "Dockerfile").read_text().startswith("# Written by `manywheel export docker`")
    script = folder / "build-wheels.sh"
    # The secret is in no file: it reaches the builds by name, from the caller's environment.
    assert not [p for p in folder.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    unset = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "ENGINE": engine},
    )  # fmt: skip
    assert unset.returncode == 2
    assert "set API_TOKEN in the environment" in unset.stderr
    run = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False, timeout=900,
        env={**os.environ, "ENGINE": engine, "API_TOKEN": token},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    built = wheels(project)
    assert sorted(w.name.split("-")[2] for w in built) == list(PYTHONS)
    # The configured environment, the secret included, reached the build.
    assert run.stdout.count(f"scripted: hi {token}") == 3
    assert containers(engine, "manywheel.export") == []
    images = subprocess.run(
        [engine, "images", "--format", "{{.Repository}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "manywheel-export" not in images
    # A target that fails: non-zero exit, nothing new in dist/, nothing left behind.
    before = tree_digest(project / "dist", skip=())
    r = export(project, engine, env={"MANYWHEEL_ENVIRONMENT": "MW_FAIL_FOR=3.14"})
    assert r.returncode == 0, r.stderr
    fail_run = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False, timeout=900,
        env={**os.environ, "ENGINE": engine},
    )  # fmt: skip
    assert fail_run.returncode != 0
    assert "is unchanged" in fail_run.stderr
    assert tree_digest(project / "dist", skip=()) == before
    assert containers(engine, "manywheel.export") == []
    assert not list((project / "dist").glob(".manywheel-export-*"))
    # Nor in the engine's temporary folder (`podman cp -` left a file per stream there).
    assert set(Path("/var/tmp").iterdir()) - temporary == set()


@pytest.mark.engine
def test_matrix_only_report_and_merge(example: Example, tmp_path: Path) -> None:
    engine = engine_or_skip("docker")  # engine-independent logic: one engine is enough
    project = example("scripted")
    r = manywheel(project, engine, "--format", "github-matrix", command="plan")
    assert r.returncode == 0, r.stderr
    matrix = json.loads(r.stdout)
    ids = [entry["only"] for entry in matrix["include"]]
    assert ids == [f"{cp}-manylinux_x86_64" for cp in PYTHONS]
    reports = []
    summary = tmp_path / "step-summary.md"
    for ident in ids[:2]:  # two "runners", each with its own output folder and report
        report = tmp_path / f"{ident}.json"
        r = manywheel(
            project, engine, "--only", ident, "--report", str(report),
            "--output-dir", str(tmp_path / ident),
            env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"::group::{ident}: built" in r.stderr
        assert "::endgroup::" in r.stderr
        assert [w.name.split("-")[2] for w in (tmp_path / ident).glob("*.whl")] == [ident[:5]]
        reports.append(str(report))
    assert summary.read_text().count("| built |") == 2
    merged = tmp_path / "merged.json"
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "merge", *reports, "--output", str(merged)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert ids[0] in r.stdout
    assert ids[1] in r.stdout
    data = json.loads(merged.read_text())
    assert [t["identifier"] for t in data["targets"]] == ids[:2]
    assert data["ok"] is True
    bad = manywheel(project, engine, "--only", "cp399-manylinux_x86_64")
    assert bad.returncode == 2, bad.stderr  # an identifier no image has: a config error
    assert "cp399-manylinux_x86_64 not found in" in bad.stderr


@pytest.mark.engine
def test_readme_python_example_builds_for_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's library example, as written, on a real engine: typed events reach the
    listener, the result names the wheel that is now in the output folder."""
    engine = engine_or_skip("docker")  # the library API does not depend on the engine
    shutil.copytree(EXAMPLES / "c-extension", tmp_path / "examples" / "c-extension", ignore=OUTPUTS)
    monkeypatch.chdir(tmp_path)
    for name, value in (("ENGINE", engine), ("IMAGE", FIXTURE_IMAGE), ("PULL", "never"),
                        ("LOG_DIR", str(tmp_path / "logs"))):  # fmt: skip
        monkeypatch.setenv(f"MANYWHEEL_{name}", value)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(
        compile(readme_python_block("Using manywheel from Python"), "README.md", "exec"), namespace
    )
    result = namespace["result"]
    assert isinstance(result, manywheel_api.RunResult)
    assert result.ok
    (wheel,) = result.results[0].wheels
    assert wheel.is_file()
    assert wheel.parent == tmp_path / "examples" / "c-extension" / "dist"
    out = capsys.readouterr().out
    assert "targets: cp313-manylinux_x86_64\n" in out
    assert "info: building 1 target(s): cp313-manylinux_x86_64\n" in out
    assert "cp313-manylinux_x86_64: built in " in out  # from the TargetDone payload
    assert f"cp313-manylinux_x86_64 built {wheel}\n" in out


def _read_pty(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


@pytest.mark.engine
def test_live_display_under_a_pseudo_terminal(example: Example) -> None:
    engine = engine_or_skip("podman")  # the display does not depend on the engine
    project = example("scripted")
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env.update(TERM="xterm-256color", MANYWHEEL_ENVIRONMENT="MW_SLEEP=1", NO_COLOR="1")
    cmd = [sys.executable, "-m", "manywheel", "build", str(project), "--engine", engine,
           "--image", FIXTURE_IMAGE, "--pull", "never", "--log-dir", str(project.parent / "logs")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    try:
        out = _read_pty(controller, proc, timeout=600).decode(errors="replace")
    finally:
        os.close(controller)
        proc.wait(timeout=60)
    assert proc.returncode == 0, out
    assert "\x1b[J" in out  # rows redrawn in place
    for cp in PYTHONS:
        assert f"✓ {cp}-manylinux_x86_64  built" in out
    assert "3 wheel(s) written" in out


def _no_engines(tmp_path: Path) -> dict[str, str]:
    """PATH where docker and podman exist but do not work: auto must fall back to host mode."""
    shadow = tmp_path / "shadow-bin"
    shadow.mkdir()
    for name in ("docker", "podman"):
        (shadow / name).write_text(
            "#!/bin/sh\necho 'Cannot connect: engine disabled for this test' >&2\nexit 1\n"
        )
        (shadow / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = f"{shadow}:{env['PATH']}"
    return env


def test_host_mode_when_no_engine_works(example: Example, tmp_path: Path) -> None:
    project = example("c-extension")
    before = tree_digest(project)
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "build", str(project), "--log-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, check=False, timeout=900, env=_no_engines(tmp_path),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "building on this machine instead (host mode" in r.stderr
    built = wheels(project)
    assert built, r.stdout
    for wheel in built:
        assert "manylinux" in wheel.name
        with zipfile.ZipFile(wheel) as zf:
            assert zf.testzip() is None
    # The wheel imports with the interpreter it was built for.
    tag = built[0].name.split("-")[2]  # cp311
    python = f"python{tag[2]}.{tag[3:]}"
    venv = tmp_path / "check"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", str(built[0])],
        check=True,
    )
    out = subprocess.run(
        [venv / "bin" / "python", "-c", "import mw_cext; print(mw_cext.add(2, 3))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "5"
    assert tree_digest(project) == before  # the host tree got nothing but dist/
    report = json.loads((tmp_path / "logs" / "latest" / "report.json").read_text())
    assert report["image"] == "host"


def test_host_mode_refuses_to_install_on_the_host(example: Example) -> None:
    project = example("c-extension")
    r = subprocess.run(
        [sys.executable, "-m", "manywheel", "build", str(project), "--engine", "host",
         "--system-packages", "zlib1g-dev"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "cannot apply system-packages" in r.stderr
    assert not (project / "dist").exists()


@pytest.mark.engine
def test_host_mode_inside_a_manylinux_container(example: Example) -> None:
    """A CI job that already runs in a manylinux image: manywheel builds there without an engine,
    with the interpreters under /opt/python and the image's auditwheel."""
    engine = engine_or_skip("docker")
    project = example("c-extension")
    script = (
        "set -eu\n"
        "mkdir /tmp/manywheel && tar -C /src --exclude=./.venv --exclude=./.git -cf - . | tar -C /tmp/manywheel -xf -\n"
        "/opt/python/cp313-cp313/bin/python -m pip install -q /tmp/manywheel\n"
        "cp -r /project /tmp/project\n"
        "/opt/python/cp313-cp313/bin/manywheel build /tmp/project --engine host\n"
        "echo '== dist'; ls /tmp/project/dist\n"
    )
    r = subprocess.run(
        [engine, "run", "--rm", "-v", f"{ROOT}:/src:ro", "-v", f"{project}:/project:ro",
         FIXTURE_IMAGE, "bash", "-c", script],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    listed = r.stdout.split("== dist", 1)[1].split()
    assert sorted(name.split("-")[2] for name in listed) == list(PYTHONS)
    assert all("manylinux" in name for name in listed)
    assert "using host" in r.stderr
