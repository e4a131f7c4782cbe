"""A second podman service on this machine, standing in for a remote podman builder (issue 13).

``podman system service`` with storage, run and temporary folders, network configuration and
locks of its own (``lock_type = "file"``: podman's default shared-memory locks are one segment
per machine, which two stores would share), in a network namespace of its own (``netns``: its
containers' bridge and firewall rules stay out of the host's). The run reaches it as a podman
connection (``podman:NAME``) over its unix socket, which works across network namespaces: the
client's configuration is a copy of this machine's containers.conf with that connection added,
given to the run in ``CONTAINERS_CONF``; nothing of the user's configuration changes.

Fact this follows, measured on the development machine: an exec session made through the
service keeps its ``conmon`` for 300 s after it ended (``--exit-delay``, so that a remote
client can still read its exit code); :meth:`SecondPodman.close` kills those of this service.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.second_engine import Server, copy_image, run, unmount_under, veth_namespace

__all__ = ["SecondPodman", "second_podman_problem"]

SUBNET = "10.213.8.0/30"  # next to second_dockerd's
HOST_IP = "10.213.8.1"
SERVICE_IP = "10.213.8.2"
START_TIMEOUT = 60.0
SYSTEM_CONF = Path("/etc/containers/containers.conf")


def second_podman_problem() -> str | None:
    """Why a second podman service cannot be started here, or None."""
    if os.geteuid() != 0:
        return "a second podman service needs root (network namespace, veth, iptables)"
    for tool in ("podman", "ip", "iptables", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class SecondPodman(Server):
    """``start()`` it, give the run :meth:`client_environment` and ``podman:``:attr:`name`,
    ``close()`` it."""

    name: str = "mwp2"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mw-podman-")))
    _process: subprocess.Popen[bytes] | None = None
    _undo: list[list[str]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.root / "podman.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client_environment(self) -> dict[str, str]:
        """For the run: this machine's podman configuration plus the connection ``name``."""
        return {"CONTAINERS_CONF": str(self.root / "client.conf")}

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The podman client, talking to this service."""
        return run(["podman", "--url", self.url, *args], check=check)

    def _configure(self) -> Path:
        system = SYSTEM_CONF.read_text() if SYSTEM_CONF.exists() else ""
        # A table after the file's own [engine] (if any) is still valid TOML.
        (self.root / "client.conf").write_text(
            f"{system}\n[engine.service_destinations.{self.name}]\nuri = {self.url!r}\n"
        )
        service = self.root / "service.conf"
        # lock_type joins the [engine] table: appended as its own table only if there is none.
        if re.search(r"^\s*lock_type\s*=", system, re.M):
            raise RuntimeError(f"{SYSTEM_CONF} sets lock_type: the second service needs its own")
        if re.search(r"^\[engine\]\s*$", system, re.M):
            text = re.sub(
                r"^\[engine\]\s*$", '[engine]\nlock_type = "file"', system, count=1, flags=re.M
            )
        else:
            text = f'{system}\n[engine]\nlock_type = "file"\n'
        service.write_text(text)
        return service

    def start(self) -> SecondPodman:
        try:
            veth_namespace(self.name, SUBNET, HOST_IP, SERVICE_IP, self._do)
            conf = self._configure()
            r = self.root
            argv = [
                "nsenter", f"--net=/var/run/netns/{self.name}", "podman",
                "--root", str(r / "root"), "--runroot", str(r / "run"), "--tmpdir", str(r / "tmp"),
                "--network-config-dir", str(r / "net"),
                "system", "service", "--time=0", self.url,
            ]  # fmt: skip
            self._spawn(
                argv, "the second podman service", self._answers, START_TIMEOUT,
                env={**os.environ, "CONTAINERS_CONF": str(conf)},
            )  # fmt: skip
        except BaseException:
            self.close()
            raise
        return self

    def _answers(self) -> bool:
        return self.podman("version", check=False).returncode == 0

    def load(self, image: str) -> None:
        """Copy an image from this machine's podman into the service."""
        copy_image(image, ["podman", "save"], ["podman", "--url", self.url, "load"])

    def close(self) -> None:
        """Remove the service's containers, stop it, kill the conmons it left (see above),
        undo the network, delete its folders."""
        try:
            if self._running():
                self.podman("rm", "-af", "-v", "--time", "0", check=False)
            self._stop()
        finally:
            bundle = f"-b {re.escape(str(self.root))}/"  # conmon -b BUNDLE
            run(["pkill", "-9", "-f", "--", bundle], check=False)
            unmount_under(self.root)
            self._undo_all()
            shutil.rmtree(self.root, ignore_errors=True)
