"""Shell completion generated from the parser: bash really completes, zsh and fish are well-formed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from manywheel._cli.completion import completion_script
from manywheel._cli.main import main, make_parser


def complete(words: list[str]) -> list[str]:
    script = completion_script(make_parser(), "bash")
    line = " ".join(words)
    probe = (
        script
        + f"\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _manywheel; "
        + 'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completes_commands_flags_and_choices() -> None:
    assert {"build", "plan", "doctor", "cache", "export", "merge"} <= set(
        complete(["manywheel", "''"])
    )
    assert "--system-packages" in complete(["manywheel", "build", "--sys"])
    assert complete(["manywheel", "build", "--engine", "p"]) == ["podman"]
    assert set(complete(["manywheel", "cache", "''"])) >= {"list", "clean"}


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed")
def test_zsh_script_parses() -> None:
    script = completion_script(make_parser(), "zsh")
    subprocess.run(["zsh", "-n", "-c", script], check=True)


def test_fish_lists_commands_and_flags() -> None:
    script = completion_script(make_parser(), "fish")
    assert "complete -c manywheel -f -n __fish_use_subcommand -a build" in script
    assert "-l system-packages" in script


def test_completion_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    assert "complete -o filenames -F _manywheel manywheel" in capsys.readouterr().out
