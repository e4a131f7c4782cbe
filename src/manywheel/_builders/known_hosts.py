"""Whether a podman builder over ssh is a host whose key is already known.

podman's ssh client is its own (in Go), not ``ssh``: it refuses a host whose key differs from
``~/.ssh/known_hosts``, but it trusts a host it has never seen and adds its key there (podman
4.3, measured). The first connection to a builder would then go to whoever answers at that
address, and a build sends the project's sources and secret variables. So a podman builder
over ssh is used only once ``~/.ssh/known_hosts`` has its host, as ``ssh`` itself would have
asked. Read like OpenSSH reads the file: comma-separated patterns with ``*`` and ``?``, ``!``
negations, ``[host]:port`` for another port than 22, hashed entries (``|1|salt|hash``);
``@revoked`` and ``@cert-authority`` lines are not a known key of the host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from pathlib import Path

from .endpoint import Builder

__all__ = ["KNOWN_HOST_TIP", "is_known", "known_host_problem"]

KNOWN_HOST_TIP = (
    "check the host's key and record it first, as ssh does: `ssh {login} true` (compare "
    "the fingerprint before you answer yes), or `ssh-keyscan {keyscan} >> {file}` once you "
    "trust the network"
)


def _hashed(pattern: str, host: str) -> bool:
    """Whether ``|1|salt|hash`` is ``host``'s (HMAC-SHA1 of the host with the salt)."""
    try:
        _, _, salt, digest = pattern.split("|")
        key, expected = base64.b64decode(salt), base64.b64decode(digest)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(hmac.new(key, host.encode(), hashlib.sha1).digest(), expected)


def _glob(pattern: str, host: str) -> bool:
    """OpenSSH's patterns: ``*`` and ``?`` only (``[host]:port`` is no character class)."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, host) is not None


def _matches(patterns: str, host: str) -> bool:
    if patterns.startswith("|1|"):
        return _hashed(patterns, host)
    found = False
    for pattern in patterns.lower().split(","):
        if pattern.startswith("!"):
            if _glob(pattern[1:], host):
                return False  # a negated pattern that matches rules the line out
        elif _glob(pattern, host):
            found = True
    return found


def is_known(host: str, known_hosts: Path) -> bool:
    """Whether ``known_hosts`` has a key for ``host`` (``name`` or ``[name]:port``)."""
    try:
        lines = known_hosts.read_text(errors="replace").splitlines()
    except OSError:
        return False
    host = host.lower()
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith("#") or fields[0].startswith("@"):
            continue
        if len(fields) >= 3 and _matches(fields[0], host):
            return True
    return False


def known_host_problem(builder: Builder) -> tuple[str, str] | None:
    """For a podman builder over ssh whose host is not in ``~/.ssh/known_hosts``: what is
    wrong and the tip; else None."""
    if builder.known_host is None:
        return None
    host, path, login = builder.known_host
    if is_known(host, path):
        return None
    name, _, port = host.removeprefix("[").partition("]:")
    keyscan = f"-p {port} {name}" if port else name
    return (
        f"builder {builder.name} ({builder.endpoint}): {path} has no key for {host}, and "
        "podman's ssh client would trust whichever key answers there",
        KNOWN_HOST_TIP.format(login=login, keyscan=keyscan, file=path),
    )
