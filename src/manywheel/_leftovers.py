"""What a killed run leaves behind, found and removed by the next one.

Every container manywheel starts carries an owner label: this host, its boot, the pid of the
manywheel process and that process's start time. A container whose owner is gone (the pid is
dead, or reused by another process, or the machine rebooted) is a leftover; one whose owner is
alive belongs to a run in progress and is never touched. Containers of other hosts (a shared or
remote engine) are never judged. Staging folders sit in each run's log folder beside an owner
file, and are judged the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ._engines.protocol import ContainerEngine

__all__ = [
    "INSTANCE_LABELS",
    "OWNER_FILE",
    "OWNER_LABEL",
    "RUN_LABEL",
    "Owner",
    "owner_alive",
    "reap_containers",
    "remove_partial_files",
    "sweep_host_folders",
    "sweep_staging",
    "this_process",
]

OWNER_LABEL = "manywheel.owner"
RUN_LABEL = "manywheel.run"
# Labels of one run's containers; an image committed from such a container must not carry
# them on, or containers made from it later would pass for that run's.
INSTANCE_LABELS = (RUN_LABEL, OWNER_LABEL)
OWNER_FILE = "owner"  # in a run's log folder
STAGING = "staging"  # a run's staging folder, in its log folder


@dataclass(frozen=True)
class Owner:
    """Who started a container or folder: ``host:boot:pid:start`` in a label or file."""

    host: str
    boot: str
    pid: int
    start: str

    def token(self) -> str:
        return f"{self.host}:{self.boot}:{self.pid}:{self.start}"

    @classmethod
    def parse(cls, token: str) -> Owner | None:
        parts = token.strip().rsplit(":", 3)
        if len(parts) != 4 or not parts[2].isdigit() or not all(parts):
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    except OSError:
        return "unknown"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@cache
def this_process() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), _boot_id(), pid, _start_time(pid) or "0")


def owner_alive(owner: Owner) -> bool | None:
    """True when the owner still runs, False when it is surely gone, None when this host
    cannot tell (another host: never judged)."""
    me = this_process()
    if owner.host != me.host:
        return None
    if owner.boot != me.boot:
        return False  # the machine rebooted since: every process of that boot is gone
    if owner.pid == me.pid:
        return owner.start == me.start
    start = _start_time(owner.pid)
    return start is not None and start == owner.start


def reap_containers(engine: ContainerEngine) -> list[tuple[str, Owner]]:
    """Remove manywheel containers whose owner process is gone; return them with their owner."""
    names = [n for n in engine.containers(OWNER_LABEL) if n.startswith("manywheel-")]
    if not names:
        return []
    fmt = '{{.Name}}\t{{index .Config.Labels "' + OWNER_LABEL + '"}}'
    r = engine.call(["inspect", "--format", fmt, *names], check=False)
    dead: list[tuple[str, Owner]] = []
    for line in r.stdout.splitlines():
        name, _, token = line.partition("\t")
        owner = Owner.parse(token)
        if owner is not None and owner_alive(owner) is False:
            dead.append((name.lstrip("/"), owner))
    engine.remove([name for name, _ in dead])
    return dead


def sweep_staging(log_root: Path, current: Path | None = None) -> list[Path]:
    """Remove the staging folders of runs whose manywheel is gone (their logs stay)."""
    removed: list[Path] = []
    if not log_root.is_dir():
        return removed
    for run_dir in log_root.iterdir():
        staging = run_dir / STAGING
        if run_dir == current or run_dir.is_symlink() or not staging.is_dir():
            continue
        try:
            owner = Owner.parse((run_dir / OWNER_FILE).read_text())
        except OSError:
            owner = None
        if owner is not None and owner_alive(owner) is not False:
            continue  # a live run's, or another host's
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging)
    return removed


def sweep_host_folders(base: Path) -> list[Path]:
    """Remove host mode's build folders (``manywheel-*`` in the temporary folder, each with an
    owner file) whose manywheel is gone."""
    removed: list[Path] = []
    for folder in base.glob("manywheel-*"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            owner = Owner.parse((folder / OWNER_FILE).read_text())
        except OSError:
            continue  # not ours, or not yet marked: never judged
        if owner is not None and owner_alive(owner) is False:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def remove_partial_files(output_dir: Path) -> list[Path]:
    """Remove the hidden ``.<wheel>.<random>.part`` files a publish that was killed left.

    Only called while holding the output folder's lock, so no other run is writing them.
    """
    removed: list[Path] = []
    if not output_dir.is_dir():
        return removed
    for path in output_dir.glob(".*.whl.*.part"):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed
