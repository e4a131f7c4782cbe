"""An ssh server in front of a second engine (``second_dockerd``), so that a builder named
``ssh://root@ADDRESS`` is reached the way a remote one is: docker's client runs ``ssh ...
docker system dial-stdio`` and talks to the daemon through it.

``sshd`` runs in the engine's network namespace, on its address, with a host key, a client
key and a configuration made here (nothing of the machine's own ssh setup is read or
changed). The client key may do one thing only: its ``authorized_keys`` line forces the
command ``docker system dial-stdio`` towards that engine's socket (and ``restrict`` forbids
forwarding and terminals). The run's ``ssh`` is this machine's, found first on PATH as a
wrapper that adds ``-F`` with the client configuration (the key, the known host, batch mode).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.second_engine import Server, run

__all__ = ["SshServer", "ssh_problem"]

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 30.0


def ssh_problem() -> str | None:
    """Why an ssh server cannot be started here, or None."""
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is not installed (openssh-server)"
    for tool in ("ssh", "ssh-keygen", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class SshServer(Server):
    """``start()`` it, give the run :meth:`client_environment`, ``close()`` it."""

    netns: str  # the engine's network namespace
    address: str  # its address there, where sshd listens
    command: str  # what the client key may run
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mw-sshd-")))
    _process: subprocess.Popen[bytes] | None = None
    _undo: list[list[str]] = field(default_factory=list)

    def _keys(self) -> tuple[str, str]:
        for name in ("host_key", "id_ed25519"):
            run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    name,
                    "-f",
                    str(self.root / name),
                ]
            )
        host = (self.root / "host_key.pub").read_text().split()
        client = (self.root / "id_ed25519.pub").read_text().strip()
        return f"{host[0]} {host[1]}", client

    def _configure(self) -> None:
        host, client = self._keys()
        r = self.root
        (r / "authorized_keys").write_text(f'restrict,command="{self.command}" {client}\n')
        (r / "sshd_config").write_text(
            f"ListenAddress {self.address}:22\nHostKey {r}/host_key\nPidFile {r}/sshd.pid\n"
            f"AuthorizedKeysFile {r}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\n"
        )
        (r / "known_hosts").write_text(f"{self.address} {host}\n")
        (r / "ssh_config").write_text(
            f"Host {self.address}\n  User root\n  IdentityFile {r}/id_ed25519\n"
            f"  IdentitiesOnly yes\n  UserKnownHostsFile {r}/known_hosts\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n"
        )
        (r / "bin").mkdir()
        wrapper = r / "bin" / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {r}/ssh_config "$@"\n')
        wrapper.chmod(0o755)

    def client_environment(self) -> dict[str, str]:
        """For the run: the wrapper first on PATH."""
        return {"PATH": f"{self.root / 'bin'}:{os.environ.get('PATH', '')}"}

    def start(self) -> SshServer:
        try:
            self._configure()
            Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
            argv = ["nsenter", f"--net=/var/run/netns/{self.netns}", SSHD, "-D", "-e",
                    "-f", str(self.root / "sshd_config")]  # fmt: skip
            self._spawn(argv, "sshd", self._listens, START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        return self

    def _listens(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1.0)
            return s.connect_ex((self.address, 22)) == 0

    def close(self) -> None:
        try:
            self._stop(timeout=10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
