"""The installer choice the build script makes in the container, run for real in bash."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._scripts.installer import PIP_CONFIG_FILES, choose_lines, probe_line


def choose(
    tmp_path: Path,
    options: Options,
    *,
    uv: bool,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the probe and the choice with a PATH that has (or lacks) a `uv`, and a clean HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "uv"
    if uv:
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
    elif fake.exists():
        fake.unlink()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    tools = ":".join(
        d for d in ("/usr/bin", "/bin") if os.path.isdir(d)
    )  # env, sed, sort, tr; never a real uv from /usr/local/bin
    script = "\n".join(
        [
            probe_line(),
            "set -eu",
            'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "$2"; }',
            # pip's own config locations, under the fake HOME (never this machine's /etc)
            *choose_lines(
                options, tuple(p.replace("/etc/", "$HOME/etc/") for p in PIP_CONFIG_FILES)
            ),
            'echo "chose=$mw_installer"',
        ]
    )
    return subprocess.run(
        ["/bin/bash", "-c", script],
        env={"PATH": f"{bin_dir}:{tools}", "HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def chose(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].removeprefix("chose=")


def test_auto_picks_uv_when_the_image_has_it(tmp_path: Path) -> None:
    done = choose(tmp_path, Options(tmp_path), uv=True)
    assert chose(done) == "uv"
    assert f"installing with uv (auto: found {tmp_path}/bin/uv)" in done.stdout


def test_auto_falls_back_to_pip_without_uv(tmp_path: Path) -> None:
    done = choose(tmp_path, Options(tmp_path), uv=False)
    assert chose(done) == "pip"
    assert "installing with pip (auto: the image has no uv on PATH)" in done.stdout


def test_auto_keeps_pip_when_the_image_configures_pip(tmp_path: Path) -> None:
    done = choose(
        tmp_path, Options(tmp_path), uv=True, env={"PIP_INDEX_URL": "https://mirror/simple"}
    )
    assert chose(done) == "pip"
    assert "auto: pip is configured by PIP_INDEX_URL" in done.stdout


def test_auto_keeps_pip_when_environment_configures_pip(tmp_path: Path) -> None:
    options = Options(tmp_path, environment=(("PIP_ONLY_BINARY", ":all:"), ("CFLAGS", "-O2")))
    done = choose(tmp_path, options, uv=True)
    assert chose(done) == "pip"
    assert "auto: pip is configured by PIP_ONLY_BINARY)" in done.stdout


def test_auto_keeps_pip_when_a_pip_conf_exists(tmp_path: Path) -> None:
    conf = tmp_path / "home" / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[global]\nindex-url = https://mirror/simple\n")
    done = choose(tmp_path, Options(tmp_path), uv=True)
    assert chose(done) == "pip"
    assert f"auto: pip is configured by {conf}" in done.stdout


@pytest.mark.parametrize("uv", [True, False])
def test_pip_when_asked(tmp_path: Path, uv: bool) -> None:
    done = choose(tmp_path, Options(tmp_path, installer="pip"), uv=uv)
    assert chose(done) == "pip"
    assert 'installing with pip (installer = "pip")' in done.stdout


def test_uv_when_asked_even_with_pip_configured(tmp_path: Path) -> None:
    done = choose(tmp_path, Options(tmp_path, installer="uv"), uv=True, env={"PIP_INDEX_URL": "x"})
    assert chose(done) == "uv"


def test_uv_asked_but_missing_fails_with_the_fix(tmp_path: Path) -> None:
    done = choose(tmp_path, Options(tmp_path, installer="uv"), uv=False)
    assert done.returncode == 31
    assert 'installer = "uv", but the image has no uv on PATH' in done.stderr
    assert 'set installer = "pip"' in done.stderr
