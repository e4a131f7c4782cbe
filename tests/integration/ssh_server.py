"""An ssh server in front of a second engine, so that a builder over ssh is reached the way a
remote one is. docker (``ssh://root@ADDRESS``, ``second_dockerd``): docker's client runs
``ssh ... docker system dial-stdio`` and talks to the daemon through it. podman
(``podman:ssh://root@ADDRESS:22/SOCKET``, ``second_podman``): podman's own ssh client (in Go)
forwards a connection to the service's socket.

``sshd`` runs in the engine's network namespace, on its address, with a host key, a client
key and a configuration made here (nothing of the machine's own ssh setup is read or
changed). The client key may do one thing only, as its ``authorized_keys`` options say
(``key_options``): docker's forces the command ``docker system dial-stdio`` towards that
engine's socket (``restrict`` forbids forwarding and terminals); podman's allows forwarding
and no command. docker's ``ssh`` is this machine's, found first on PATH as a wrapper that adds
``-F`` with the client configuration (the key, the known host, batch mode); podman's client
is given the key in ``CONTAINER_SSHKEY`` and reads the known host from ``~/.ssh/known_hosts``
of a home folder made here.
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
    key_options: str  # what the client key may do: its authorized_keys options
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
        (r / "authorized_keys").write_text(f"{self.key_options} {client}\n")
        (r / "sshd_config").write_text(
            f"ListenAddress {self.address}:22\nHostKey {r}/host_key\nPidFile {r}/sshd.pid\n"
            f"AuthorizedKeysFile {r}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\n"
        )
        (r / "known_hosts").write_text(f"{self.address} {host}\n")
        (r / "home" / ".ssh").mkdir(parents=True)
        shutil.copy(r / "known_hosts", r / "home" / ".ssh" / "known_hosts")
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
        """For a run with docker over ssh: the wrapper first on PATH."""
        return {"PATH": f"{self.root / 'bin'}:{os.environ.get('PATH', '')}"}

    def podman_environment(self) -> dict[str, str]:
        """For a run with podman over ssh: the key, and a home folder whose known_hosts has
        the server's key (podman would add an unknown one to the user's)."""
        return {"CONTAINER_SSHKEY": str(self.root / "id_ed25519"), "HOME": str(self.root / "home")}

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
