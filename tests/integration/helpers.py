"""Running manywheel and the engines for real in integration tests."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FIXTURE_IMAGE


def manywheel(
    project: Path,
    engine: str,
    *args: str,
    command: str = "build",
    env: dict[str, str] | None = None,
    timeout: float = 900,
    image: str | None = FIXTURE_IMAGE,
) -> subprocess.CompletedProcess[str]:
    """Run the manywheel CLI as a user would, against the fixture image (``image=None``: no
    --image, for runs that name their images with the per-platform keys)."""
    cmd = [sys.executable, "-m", "manywheel", command, str(project), "--engine", engine]
    cmd += [*(["--image", image] if image else []), "--pull", "never"]
    if command == "build":
        cmd += ["--log-dir", str(project.parent / "logs")]
    proc = subprocess.Popen(
        [*cmd, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=project if project.is_dir() else None,  # a cibuildwheel project's wheelhouse/
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the CLI prints its threads' stacks, and goes on
        time.sleep(3)
        engines = engine_processes()
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(hung(timeout, out, err, project.parent / "logs", engines)) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def engine_processes() -> str:
    ps = subprocess.run(
        ["ps", "-eo", "pid,ppid,etimes,stat,args"], capture_output=True, text=True, check=False
    ).stdout
    return "\n".join(
        ln[:400] for ln in ps.splitlines() if re.search(r"podman|docker|conmon|runc", ln)
    )


def hung(timeout: float, out: str, err: str, logs: Path, engines: str) -> str:
    """What a run that did not end was doing: its output (with its threads' stacks), its
    targets' logs and the engines' processes (a hang in CI is seen once: this is all there is
    to go on)."""
    parts = [
        f"manywheel did not end within {timeout:.0f} s",
        "--- its stderr (end):\n" + err[-12000:],
        "--- its stdout (end):\n" + out[-2000:],
    ]
    latest = logs / "latest"
    for log in sorted(latest.glob("*.log")) if latest.is_dir() else []:
        parts.append(f"--- {log.name} (end):\n" + log.read_text(errors="replace")[-1500:])
    parts.append("--- engine processes:\n" + engines)
    return "\n".join(parts)


def wheels(project: Path) -> list[Path]:
    """The wheels built: in dist/, or wheelhouse/ where cibuildwheel's defaults apply."""
    return sorted(w for out in ("dist", "wheelhouse") for w in (project / out).glob("*.whl"))


def run_in_fresh_container(engine: str, wheel_dir: Path, script: str) -> str:
    """Install and use wheels in a throwaway container of the plain fixture image."""
    r = subprocess.run(
        [
            engine,
            "run",
            "--rm",
            "-v",
            f"{wheel_dir}:/wheels:ro",
            FIXTURE_IMAGE,
            "bash",
            "-euc",
            script,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def leftover_containers(engine: str, project: Path) -> list[str]:
    """Containers still there from the runs made for ``project`` (their ids name the log folders)."""
    logs = project.parent / "logs"
    runs = (
        [p.name for p in logs.iterdir() if p.is_dir() and p.name != "latest"]
        if logs.is_dir()
        else []
    )
    out = subprocess.run(
        [engine, "ps", "-a", "--filter", "label=manywheel.run", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in out.split() if any(run in name for run in runs)]


def tree_digest(root: Path, skip: tuple[str, ...] = ("dist",)) -> str:
    """A hash of every path, mode and content below root (minus skipped top-level names)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip:
            continue
        st = path.lstat()
        digest.update(f"{rel}\0{st.st_mode}\0{st.st_uid}\0".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def auditwheel_consistent(log: str) -> bool:
    """Whether ``auditwheel show`` in a target's log found the wheel consistent with a platform
    tag: its sentence is wrapped wherever the wheel's name ends, each line time-stamped."""
    text = re.sub(r"\n\[\s*[\d.]+s\]\s*", " ", log)
    return re.search(r"is\s+consistent\s+with\s+the\s+following\s+platform\s+tag", text) is not None
