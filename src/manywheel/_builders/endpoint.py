"""The ``builders`` option's words: which engines a run's targets may build on, and how the
docker or podman client is told to talk to each (its global arguments and environment).

A word is ``local`` (this machine's engine, as the ``engine`` option picks it), a docker
context or podman connection name, ``ssh://[USER@]HOST[:PORT]`` or ``tcp://HOST:PORT``,
optionally after ``docker:`` or ``podman:`` (the engine; without it, the ``engine`` option's,
docker when that is auto). Security (see the README's security model): nothing here reads or
writes credentials. ssh goes through the engine's own client with the user's ssh
configuration (~/.ssh, ssh-agent); TLS uses the client certificates docker itself would,
DOCKER_CERT_PATH's (else DOCKER_CONFIG's, else ~/.docker). Plain TCP, which lets anyone who
reaches the port run root containers there, is used only towards a loopback address.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from .._engines.choice import host_mode
from .._errors import ConfigError

__all__ = [
    "LOCAL",
    "TLS_FILES",
    "TLS_TIP",
    "Builder",
    "EngineKind",
    "is_loopback",
    "parse_builder",
    "parse_builders",
    "tls_problem",
]

EngineKind = Literal["docker", "podman"]
LOCAL = "local"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")  # docker's names, in DOCKER_CERT_PATH
TLS_TIP = (
    "put your CA and client certificate there (ca.pem, cert.pem, key.pem) or point "
    "DOCKER_CERT_PATH at the folder that has them; for certificates of their own per host, "
    "make a docker context (docker context create NAME --docker "
    "host=tcp://HOST:2376,ca=...,cert=...,key=...) and name it: docker:NAME"
)
FORMS = (
    "local, a docker context or podman connection name (docker:NAME, podman:NAME), "
    "ssh://[USER@]HOST[:PORT] or tcp://HOST:PORT"
)
# Docker's context names; podman takes the same for connections here. Never a leading "-".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
# What else may tell docker's client where and how to connect: cleared for an address we set.
_NO_TLS: tuple[tuple[str, None], ...] = (
    ("DOCKER_TLS_VERIFY", None),
    ("DOCKER_TLS", None),
    ("DOCKER_CERT_PATH", None),
)


@dataclass(frozen=True)
class Builder:
    """One engine targets can build on, and how its client reaches it."""

    name: str  # as plan shows it: local, the context or connection, HOST[:PORT]
    endpoint: str  # the word of ``builders``
    engine: EngineKind | None  # None: this machine's, as the engine option (auto) picks it
    args: tuple[str, ...] = ()  # the client's global arguments: --context NAME, --url URL
    env: tuple[tuple[str, str | None], ...] = ()  # variables for the client (None: removed)
    tls_dir: Path | None = None  # tcp:// with TLS: the folder of ca.pem, cert.pem, key.pem
    # podman over ssh: the host as known_hosts names it, the known_hosts file podman's client
    # reads and ssh's arguments to log in there (see known_hosts)
    known_host: tuple[str, Path, str] | None = None

    @property
    def local(self) -> bool:
        return self.endpoint == LOCAL

    def argv(self, *command: str) -> list[str]:
        """The client's command line for ``command`` (``info``, ``run``, ...)."""
        if self.engine is None:
            raise ValueError(f"builder {self.name}: its engine is not known yet")
        return [self.engine, *self.args, *command]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (the user's environment) with this builder's variables set or removed."""
        env = dict(base)
        for key, value in self.env:
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def command_line(self, *command: str) -> str:
        """The shell line that runs ``command`` against this builder, for messages."""
        sets = [f"{k}={v}" for k, v in self.env if v is not None]
        return shlex.join([*sets, *self.argv(*command)])


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1, and ::1's
    IPv4-mapped form). A name is not resolved: only ``localhost`` is taken as loopback."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def parse_builders(
    words: Sequence[str], *, engine: str = "auto", environ: Mapping[str, str] | None = None
) -> tuple[Builder, ...]:
    """The builders ``words`` name (none: ``local`` alone). ``engine``: the engine option;
    ``environ``: where DOCKER_CERT_PATH is read (default: this process's environment).
    ConfigError names a word that is not a builder, and builders that share a name."""
    env = os.environ if environ is None else environ
    builders = tuple(parse_builder(w, engine=engine, environ=env) for w in words or (LOCAL,))
    seen: dict[str, Builder] = {}
    for b in builders:
        if b.name in seen:
            raise ConfigError(
                f"'builders' has two builders named {b.name}: {seen[b.name].endpoint} and "
                f"{b.endpoint}",
                tip="list each builder once; to reach one host in two ways, give each a docker "
                "context (or podman connection) of its own name",
            )
        seen[b.name] = b
    remote = [b.endpoint for b in builders if not b.local]
    if host_mode(engine) and remote:
        raise ConfigError(
            f"'builders' names {', '.join(remote)}, but engine = 'host' builds on this machine "
            "without containers",
            tip="use engine = 'docker' or 'podman' (or auto) with builders",
        )
    return builders


def parse_builder(word: str, *, engine: str, environ: Mapping[str, str]) -> Builder:
    """One word of ``builders`` (see the module's docstring)."""
    if word == LOCAL:
        return Builder(LOCAL, LOCAL, _kind(engine))
    prefix, sep, rest = word.partition(":")
    named = _kind(prefix) if sep and not rest.startswith("//") else None
    kind = named or _kind(engine) or "docker"
    address = rest if named else word
    if "://" not in address:
        if not _NAME.fullmatch(address):
            raise _bad(word, "is not a builder")
        if kind == "docker":
            return Builder(address, word, kind, ("--context", address))
        return Builder(address, word, kind, ("--connection", address))
    url = urlsplit(address)
    if url.scheme == "ssh":
        return _ssh(word, kind, url, environ)
    if url.scheme == "tcp":
        return _tcp(word, kind, url, environ)
    raise _bad(word, f"has the scheme {url.scheme}://, which manywheel does not reach builders by")


def _kind(word: str) -> EngineKind | None:
    """The engine ``word`` names (docker, podman), or None (auto, host, anything else)."""
    return "docker" if word == "docker" else "podman" if word == "podman" else None


def _bad(word: str, why: str, tip: str = f"write a builder as {FORMS}") -> ConfigError:
    return ConfigError(f"'builders': {word} {why}", tip=tip)


def _host_port(word: str, url: SplitResult) -> tuple[str, int | None]:
    """The checked host and port of an address (never an option to ssh: no leading -)."""
    host = url.hostname or ""
    try:
        port = url.port
    except ValueError:
        raise _bad(word, "has a port that is not a number from 0 to 65535") from None
    if not host or not _HOST.fullmatch(host):
        raise _bad(word, "has no valid host name or address")
    if url.query or url.fragment:
        raise _bad(word, "has a query or fragment (?... or #...), which builders do not take")
    return host, port


def _netloc(host: str, port: int | None, user: str | None = None) -> str:
    where = f"[{host}]" if ":" in host else host
    return (f"{user}@" if user else "") + where + ("" if port is None else f":{port}")


def _ssh(word: str, kind: EngineKind, url: SplitResult, environ: Mapping[str, str]) -> Builder:
    host, port = _host_port(word, url)
    if url.password is not None:
        raise _bad(
            word,
            "has a password",
            tip="builders reached over ssh log in with your ssh keys (~/.ssh, ssh-agent), "
            "never a password written in the configuration",
        )
    user = url.username
    if user is not None and not _USER.fullmatch(user):
        raise _bad(word, f"has the user name {user!r}, which is not one")
    name = _netloc(host, port)
    if kind == "docker":
        if url.path not in ("", "/"):
            raise _bad(
                word,
                "has a path; docker's ssh:// address is just [USER@]HOST[:PORT] (docker runs "
                "`docker system dial-stdio` there)",
            )
        address = f"ssh://{_netloc(host, port, user)}"
        return Builder(name, word, kind, env=(("DOCKER_HOST", address), *_NO_TLS))
    if url.path in ("", "/"):  # podman 4 connects to an empty socket path then
        raise _bad(
            word,
            "names no socket; podman's ssh:// address ends with the path of the podman socket "
            "on that machine",
            tip="write podman:ssh://[USER@]HOST[:PORT]/run/podman/podman.sock (rootful podman; "
            "rootless: /run/user/UID/podman/podman.sock); there, `podman info --format "
            "'{{.Host.RemoteSocket.Path}}'` prints it",
        )
    # The port is always written: podman 4 fails on an address without one.
    address = f"ssh://{_netloc(host, port or 22, user)}{url.path}"
    known = host if port in (None, 22) else f"[{host}]:{port}"
    login = ("" if port in (None, 22) else f"-p {port} ") + _netloc(host, None, user)
    known_hosts = Path(environ.get("HOME") or Path.home()) / ".ssh" / "known_hosts"
    return Builder(name, word, kind, ("--url", address), known_host=(known, known_hosts, login))


def _tcp(word: str, kind: EngineKind, url: SplitResult, environ: Mapping[str, str]) -> Builder:
    host, port = _host_port(word, url)
    if port is None:
        raise _bad(word, "has no port", tip="write tcp://HOST:PORT (docker's TLS port is 2376)")
    if url.username is not None or url.path not in ("", "/"):
        raise _bad(word, "has a user or a path; a tcp:// builder is just tcp://HOST:PORT")
    name = _netloc(host, port)
    address = f"tcp://{name}"
    loopback = is_loopback(host)
    if kind == "podman":
        if not loopback:
            raise _bad(
                word,
                "is a podman service over plain TCP (podman's tcp:// has no TLS), which only a "
                "loopback address may be: anyone who reaches the port could run containers there",
                tip="reach a remote podman over ssh:// or a podman connection (podman system "
                "connection add)",
            )
        return Builder(name, word, kind, ("--url", address))
    if loopback:  # this machine (a local daemon, an ssh tunnel): plain TCP never leaves it
        return Builder(name, word, kind, env=(("DOCKER_HOST", address), *_NO_TLS))
    certs = Path(
        environ.get("DOCKER_CERT_PATH")
        or environ.get("DOCKER_CONFIG")
        or Path(environ.get("HOME") or Path.home()) / ".docker"
    )
    env = (
        ("DOCKER_HOST", address),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_TLS", None),
        ("DOCKER_CERT_PATH", str(certs)),
    )
    return Builder(name, word, kind, env=env, tls_dir=certs)


def tls_problem(builder: Builder) -> str | None:
    """What is missing for a TLS builder's client certificates (checked when the builder is
    first reached, and by doctor; not when the configuration is read, since the
    certificates may be put in place later), or None."""
    if builder.tls_dir is None:
        return None
    missing = [f for f in TLS_FILES if not (builder.tls_dir / f).is_file()]
    if not missing:
        return None
    return (
        f"builder {builder.name} ({builder.endpoint}) is reached over TLS with the client "
        f"certificates in {builder.tls_dir}, which has no {', '.join(missing)}"
    )
