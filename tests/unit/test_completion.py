"""Shell completion generated from the parser: bash really completes, zsh and fish are well-formed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import tree_sitter_zsh
from tree_sitter import Language, Node, Parser

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


def test_zsh_script_parses() -> None:
    """zsh's own parser where zsh is installed, and always zsh's grammar (tree-sitter-zsh, from
    the test extra): machines whose package archive has no zsh still check the script."""
    script = completion_script(make_parser(), "zsh")
    if shutil.which("zsh") is not None:
        subprocess.run(["zsh", "-n", "-c", script], check=True)
    grammar = Parser(Language(tree_sitter_zsh.language()))
    tree = grammar.parse(script.encode())
    assert not tree.root_node.has_error, _first_error(tree.root_node)
    broken = grammar.parse(script.replace("esac", "", 1).encode())
    assert broken.root_node.has_error  # (the check does tell)


def _first_error(node: Node) -> str:
    """Where the grammar first failed, for the assertion message."""
    if node.type == "ERROR" or node.is_missing:
        return f"line {node.start_point[0] + 1}: {node.text!r}"
    for child in node.children:
        if child.has_error:
            return _first_error(child)
    return "no error node"


def test_fish_lists_commands_and_flags() -> None:
    script = completion_script(make_parser(), "fish")
    assert "complete -c manywheel -f -n __fish_use_subcommand -a build" in script
    assert "-l system-packages" in script


def test_completion_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    assert "complete -o filenames -F _manywheel manywheel" in capsys.readouterr().out
