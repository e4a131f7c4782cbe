"""What the second engines on this machine (``second_dockerd``, ``second_podman``: stand-ins
for remote builders) share: a network namespace of their own, copying an image in from this
machine's engine, and the clean-up of what they leave mounted.

The namespace is reached from the host's through a veth pair with NAT out, so its containers
reach the package index and nothing else on the host changes (a second engine in the host's
namespace fights the first over its bridge and firewall rules). Only root can do this; every
step that adds something returns the command that undoes it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "Server",
    "copy_image",
    "log_tail",
    "run",
    "unmount_under",
    "veth_namespace",
    "wait_ready",
]

Do = Callable[[list[str], "list[str] | None"], None]


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


def veth_namespace(name: str, subnet: str, host_ip: str, inner_ip: str, do: Do) -> None:
    """Namespace ``name`` with ``inner_ip`` on its side of a veth (``host_ip`` on the host's,
    both in the /30 ``subnet``), its default route through the host, NAT out. ``do(argv,
    undo)`` runs each step and keeps its undo (None: the namespace's removal undoes it). Docker
    sets the FORWARD policy to DROP, so the veth gets ACCEPT rules of its own."""
    host_if, ns_if = f"{name}h", f"{name}c"
    in_ns = ["ip", "netns", "exec", name]
    do(["ip", "netns", "add", name], ["ip", "netns", "delete", name])
    do(
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "delete", host_if],
    )
    do(["ip", "link", "set", ns_if, "netns", name], None)
    do(["ip", "addr", "add", f"{host_ip}/30", "dev", host_if], None)
    do(["ip", "link", "set", host_if, "up"], None)
    do([*in_ns, "ip", "addr", "add", f"{inner_ip}/30", "dev", ns_if], None)
    do([*in_ns, "ip", "link", "set", ns_if, "up"], None)
    do([*in_ns, "ip", "link", "set", "lo", "up"], None)
    do([*in_ns, "ip", "route", "add", "default", "via", host_ip], None)
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    do(
        ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
        ["sysctl", "-qw", f"net.ipv4.ip_forward={forwarding}"],
    )
    nat = ["POSTROUTING", "-s", subnet, "!", "-o", host_if, "-j", "MASQUERADE"]
    do(["iptables", "-w", "-t", "nat", "-A", *nat], ["iptables", "-w", "-t", "nat", "-D", *nat])
    for rule in (["-i", host_if, "-j", "ACCEPT"], ["-o", host_if, "-j", "ACCEPT"]):
        do(["iptables", "-w", "-I", "FORWARD", *rule], ["iptables", "-w", "-D", "FORWARD", *rule])


def unmount_under(root: Path) -> None:
    """Whatever an engine left mounted under ``root`` (overlays, netns files), deepest first."""
    prefix = f"{root}/"
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        run(["umount", "-l", point], check=False)


def copy_image(image: str, save: Sequence[str], load: Sequence[str]) -> None:
    """``save`` (this machine's client: ``docker save IMAGE``) piped into ``load`` (the second
    engine's client: ``... load``)."""
    out = subprocess.Popen([*save, image], stdout=subprocess.PIPE)
    assert out.stdout is not None
    loaded = subprocess.run(
        list(load), stdin=out.stdout, capture_output=True, text=True, check=False, timeout=600
    )
    out.stdout.close()
    if out.wait(timeout=600) != 0 or loaded.returncode != 0:
        raise RuntimeError(f"loading {image} with {' '.join(load)} failed: {loaded.stderr}")


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a server's log file (empty if there is none yet)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    log: Path,
    timeout: float,
) -> None:
    """Until ``ready()`` (asked every 0.5 s); RuntimeError with ``log``'s tail if ``process``
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log_tail(log)}")
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s:\n{log_tail(log)}")


class Server:
    """What the servers these tests run (the second engines, sshd) share: the process, started
    and waited for; the set-up steps, each with its undo; the stop. Subclasses (dataclasses)
    declare these fields."""

    root: Path
    _process: subprocess.Popen[bytes] | None
    _undo: list[list[str]]

    def _do(self, argv: list[str], undo: list[str] | None = None) -> None:
        run(argv)
        if undo is not None:
            self._undo.append(undo)

    def _undo_all(self) -> None:
        for argv in reversed(self._undo):
            run(argv, check=False)
        self._undo.clear()

    def _spawn(
        self,
        argv: list[str],
        what: str,
        ready: Callable[[], bool],
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start ``argv`` (its output in ``root/server.log``) and wait until ``ready()``."""
        log = self.root / "server.log"
        with log.open("ab") as out:
            self._process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_ready(self._process, ready, what, log, timeout)

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _stop(self, timeout: float = 30.0) -> None:
        """Terminate the process; kill it if it has not ended after ``timeout`` seconds."""
        if self._process is None or not self._running():
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=timeout)
