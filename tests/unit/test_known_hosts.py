"""A podman builder over ssh is used only once ~/.ssh/known_hosts has its host (podman's own
ssh client would trust whichever key answers the first time)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from manywheel._builders import discover_builder, parse_builders
from manywheel._builders.endpoint import Builder
from manywheel._builders.known_hosts import is_known, known_host_problem
from manywheel._errors import EngineError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0l3ANgzzH9GADhBIy2srBvQg882c78rs/m5Aj9Jo3U"


def podman_ssh(word: str, home: Path) -> Builder:
    (b,) = parse_builders([word], engine="podman", environ={"HOME": str(home)})
    return b


def hashed(host: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@pytest.mark.parametrize(
    ("line", "host", "known"),
    [
        (f"box.example {KEY}", "box.example", True),
        (f"BOX.example,10.0.0.5 {KEY}", "10.0.0.5", True),
        (f"other.example {KEY}", "box.example", False),
        (f"box.example {KEY}", "[box.example]:2222", False),  # another port is another host
        (f"[box.example]:2222 {KEY}", "[box.example]:2222", True),
        (f"*.example {KEY}", "box.example", True),
        (f"*.example,!box.example {KEY}", "box.example", False),
        (f"{hashed('box.example')} {KEY}", "box.example", True),
        (f"{hashed('box.example')} {KEY}", "other.example", False),
        (f"|1|not|base64! {KEY}", "box.example", False),
        (f"@revoked box.example {KEY}", "box.example", False),
        (f"@cert-authority *.example {KEY}", "box.example", False),
        (f"# box.example {KEY}", "box.example", False),
        ("box.example", "box.example", False),  # no key
    ],
)
def test_known_hosts_is_read_as_openssh_reads_it(
    tmp_path: Path, line: str, host: str, known: bool
) -> None:
    (tmp_path / "known_hosts").write_text(f"\n{line}\n")
    assert is_known(host, tmp_path / "known_hosts") is known


def test_a_podman_builder_over_ssh_needs_its_host_known(tmp_path: Path) -> None:
    b = podman_ssh("podman:ssh://core@box.example:2222/run/podman/podman.sock", tmp_path)
    known_hosts = tmp_path / ".ssh" / "known_hosts"
    assert b.known_host == ("[box.example]:2222", known_hosts, "-p 2222 core@box.example")
    problem = known_host_problem(b)  # no known_hosts file at all
    assert problem is not None
    assert problem[0] == (
        f"builder box.example:2222 (podman:ssh://core@box.example:2222/run/podman/podman.sock): "
        f"{known_hosts} has no key for [box.example]:2222, and podman's ssh client would trust "
        "whichever key answers there"
    )
    assert problem[1] == (
        "check the host's key and record it first, as ssh does: `ssh -p 2222 core@box.example "
        "true` (compare the fingerprint before you answer yes), or `ssh-keyscan -p 2222 "
        f"box.example >> {known_hosts}` once you trust the network"
    )
    known_hosts.parent.mkdir()
    known_hosts.write_text(f"[box.example]:2222 {KEY}\n")
    assert known_host_problem(b) is None
    # Port 22 is the bare name; docker over ssh is ssh's own business (it asks).
    b = podman_ssh("podman:ssh://box.example/run/podman/podman.sock", tmp_path)
    assert b.known_host == ("box.example", known_hosts, "box.example")
    (docker,) = parse_builders(["ssh://box.example"], engine="docker", environ={})
    assert docker.known_host is None
    assert known_host_problem(docker) is None


def test_discovery_refuses_an_unknown_host_before_reaching_it(tmp_path: Path) -> None:
    b = podman_ssh("podman:ssh://box.example/run/podman/podman.sock", tmp_path)
    calls: list[object] = []

    def runner(argv: list[str], env: dict[str, str]) -> object:
        calls.append(argv)
        raise AssertionError("reached")

    with pytest.raises(EngineError) as info:
        discover_builder(b, runner, environ={"HOME": str(tmp_path)})  # type: ignore[arg-type]
    assert "has no key for box.example" in info.value.message
    assert calls == []
