"""A second docker daemon on this machine, standing in for a remote builder (issue 13).

It runs in a network namespace of its own, reached from the host's namespace through a veth
pair with NAT out (so its containers reach the package index, and nothing else changes on
the host), with its own data root, exec root and pid file. It listens on a unix socket (which
works across network namespaces) and on TCP with TLS, with a CA and server and client
certificates made here for the test. No traffic leaves this machine except its containers'
own downloads.

Facts this follows, measured on the development machine:

- a second dockerd in the host's namespace, even with ``--bridge none``, deletes the first
  daemon's ``docker0``, and every later ``docker run`` on the first daemon fails until it
  restarts: hence the namespace;
- ``ip netns exec`` remounts /sys, and dockerd then stops with "Devices cgroup isn't
  mounted": the daemon is started with ``nsenter --net=/var/run/netns/NAME`` instead;
- docker sets the FORWARD policy to DROP, so the veth needs ACCEPT rules of its own.

Only root can do this. Everything it adds (namespace, veth, iptables rules, folders) is
removed by :meth:`SecondDockerd.close`, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.second_engine import Server, copy_image, unmount_under, veth_namespace
from tests.integration.second_engine import run as _run

__all__ = ["CONTAINER_PREFIX", "SecondDockerd", "second_dockerd_problem"]

# A /30 that nothing on the test machine uses; the daemon's side is .2.
SUBNET = "10.213.7.0/30"
HOST_IP = "10.213.7.1"
DAEMON_IP = "10.213.7.2"
TLS_PORT = 2376
# Its containers' bridge: not docker's default, so a container can tell which daemon runs it
# (its address is in its /etc/hosts).
BRIDGE_IP = "172.31.213.1/24"
CONTAINER_PREFIX = "172.31.213."
START_TIMEOUT = 60.0


def second_dockerd_problem() -> str | None:
    """Why a second daemon cannot be started here, or None."""
    if os.geteuid() != 0:
        return "a second dockerd needs root (network namespace, veth, iptables)"
    for tool in ("dockerd", "docker", "ip", "iptables", "nsenter", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class SecondDockerd(Server):
    """``start()`` it, use :attr:`unix_host` / :meth:`tls_environment`, ``close()`` it."""

    name: str = "mwb2"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mw-dockerd-")))
    _process: subprocess.Popen[bytes] | None = None
    _argv: list[str] = field(default_factory=list)
    _orphans: list[str] = field(default_factory=list)
    _undo: list[list[str]] = field(default_factory=list)

    @property
    def netns(self) -> str:
        return self.name

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def unix_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_host(self) -> str:
        return f"tcp://{DAEMON_IP}:{TLS_PORT}"

    @property
    def certs(self) -> Path:
        """The client's folder, in docker's layout (ca.pem, cert.pem, key.pem)."""
        return self.root / "client"

    def tls_environment(self) -> dict[str, str]:
        return {
            "DOCKER_HOST": self.tcp_host,
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(self.certs),
        }

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The docker client, talking to this daemon over its unix socket."""
        return _run(["docker", "-H", self.unix_host, *args], check=check)

    # -- set up ---------------------------------------------------------------------------

    def _network(self) -> None:
        veth_namespace(self.name, SUBNET, HOST_IP, DAEMON_IP, self._do)

    def _certificates(self) -> Path:
        """A CA, the daemon's certificate (for its address) and a client certificate."""
        tls = self.root / "tls"
        tls.mkdir(mode=0o700)
        self.certs.mkdir(mode=0o700)

        def ssl(*args: str) -> None:
            _run(["openssl", *args])

        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=manywheel test CA", "-keyout", str(tls / "ca-key.pem"), "-out", str(tls / "ca.pem"))  # fmt: skip
        ext = tls / "server.ext"
        ext.write_text(f"subjectAltName=IP:{DAEMON_IP}\nextendedKeyUsage=serverAuth\n")
        client_ext = tls / "client.ext"
        client_ext.write_text("extendedKeyUsage=clientAuth\n")
        for who, extfile in (("server", ext), ("client", client_ext)):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                "-keyout", str(tls / f"{who}-key.pem"), "-out", str(tls / f"{who}.csr"))  # fmt: skip
            ssl("x509", "-req", "-days", "1", "-in", str(tls / f"{who}.csr"), "-CA",
                str(tls / "ca.pem"), "-CAkey", str(tls / "ca-key.pem"), "-CAcreateserial",
                "-extfile", str(extfile), "-out", str(tls / f"{who}.pem"))  # fmt: skip
        shutil.copy(tls / "ca.pem", self.certs / "ca.pem")
        shutil.copy(tls / "client.pem", self.certs / "cert.pem")
        shutil.copy(tls / "client-key.pem", self.certs / "key.pem")
        return tls

    def start(self) -> SecondDockerd:
        try:
            self._network()
            tls = self._certificates()
            argv = [
                "nsenter", f"--net=/var/run/netns/{self.name}", "dockerd",
                "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"), "--bip", BRIDGE_IP,
                "-H", self.unix_host, "-H", f"tcp://{DAEMON_IP}:{TLS_PORT}",
                "--tlsverify", "--tlscacert", str(tls / "ca.pem"),
                "--tlscert", str(tls / "server.pem"), "--tlskey", str(tls / "server-key.pem"),
                "--default-ulimit", "nofile=16384:16384", "--default-ulimit", "nproc=16384:16384",
            ]  # fmt: skip
            self._argv = argv
            self._launch()
        except BaseException:
            self.close()
            raise
        return self

    def _launch(self) -> None:
        self._spawn(self._argv, "second dockerd", self._answers, START_TIMEOUT)

    def _answers(self) -> bool:
        return self.docker("info", "--format", "{{.ServerVersion}}", check=False).returncode == 0

    def load(self, image: str) -> None:
        """Copy an image from the host's docker into this daemon."""
        copy_image(image, ["docker", "save"], ["docker", "-H", self.unix_host, "load"])

    @contextlib.contextmanager
    def cut_off(self) -> Iterator[None]:
        """The network between this machine and the daemon goes quiet while the block runs
        (its packets dropped both ways): connections to it hang instead of closing, as when
        a remote builder's network fails. Its unix socket still works."""
        rules = [
            ["INPUT", "-s", DAEMON_IP, "-j", "DROP"],
            ["OUTPUT", "-d", DAEMON_IP, "-j", "DROP"],
        ]
        undo = [["iptables", "-w", "-D", *rule] for rule in rules]
        for rule, back in zip(rules, undo, strict=True):
            self._do(["iptables", "-w", "-I", *rule], back)
        try:
            yield
        finally:
            for back in undo:
                _run(back, check=False)
                self._undo.remove(back)

    # -- tear down ------------------------------------------------------------------------

    def kill(self) -> None:
        """Kill the daemon at once (a builder lost mid-run). Its containers go on running
        under their shims; close() kills them (it knows their ids from here)."""
        if self._process is not None and self._process.poll() is None:
            self._orphans += self.docker("ps", "-q", "--no-trunc", check=False).stdout.split()
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)

    def close(self) -> None:
        """Remove the daemon's containers, stop it, undo the network, delete its folders."""
        try:
            if self._running():
                ids = self.docker("ps", "-aq", check=False).stdout.split()
                if ids:
                    self.docker("rm", "-f", "-v", *ids, check=False)
            self._stop()
        finally:
            self._kill_orphans()
            unmount_under(self.root)
            self._undo_all()
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_orphans(self) -> None:
        """The shims of a killed daemon (found by its containerd socket's path) and the
        processes of its containers (found by the container ids in their cgroup)."""
        _run(
            ["pkill", "-9", "-f", "--", f"-address {re.escape(str(self.root))}/exec/"], check=False
        )
        if not self._orphans:
            return
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cgroup = (proc / "cgroup").read_text()
            except OSError:
                continue
            if any(cid in cgroup for cid in self._orphans):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)
        self._orphans.clear()
