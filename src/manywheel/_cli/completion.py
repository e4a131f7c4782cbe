"""Shell completion scripts (bash, zsh, fish), generated from the argument parser itself."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .._scripts.shell import quote

__all__ = ["SHELLS", "completion_script", "subcommands"]

SHELLS = ("bash", "zsh", "fish")


@dataclass(frozen=True)
class _Command:
    name: str  # "build", or "cache list" for nested commands
    help: str
    flags: tuple[tuple[str, str, tuple[str, ...]], ...]  # (flag, help, choices)


def _flags(parser: argparse.ArgumentParser) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    out = []
    for action in parser._actions:
        choices = tuple(str(c) for c in action.choices or ()) if action.choices else ()
        for flag in action.option_strings:
            if flag.startswith("--") or len(flag) == 2:
                out.append((flag, (action.help or "").split(" [")[0], choices))
    return tuple(out)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """The parser's subcommands: name -> (help, parser); empty when it has none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return {name: (helps.get(name, ""), p) for name, p in action.choices.items()}
    return {}


def _commands(parser: argparse.ArgumentParser) -> list[_Command]:
    commands = []
    for name, (help_text, sub) in subcommands(parser).items():
        commands.append(_Command(name, help_text, _flags(sub)))
        for child, (child_help, p) in subcommands(sub).items():
            commands.append(_Command(f"{name} {child}", child_help, _flags(p)))
    return commands


def _bash(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    top = [c.name for c in commands if " " not in c.name] + [f for f, _, _ in _flags(parser)]
    lines = [
        '# bash completion for manywheel: eval "$(manywheel completion bash)"',
        "_manywheel() {",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i w',
        "  for ((i = 1; i < COMP_CWORD; i++)); do",
        '    w="${COMP_WORDS[i]}"',
        '    case "$w" in -*) ;; *) if [ -z "$cmd" ]; then cmd="$w"; '
        'elif [ "$cmd" = cache ]; then cmd="cache $w"; fi ;; esac',
        "  done",
        '  local opts=""',
        '  case "$cmd" in',
    ]
    for c in commands:
        words = [f for f, _, _ in c.flags]
        words += [d.name.split(" ")[1] for d in commands if d.name.startswith(c.name + " ")]
        lines.append(f"    {quote(c.name)}) opts={quote(' '.join(words))} ;;")
    lines += [f"    '') opts={quote(' '.join(top))} ;;", "  esac", '  case "$prev" in']
    seen: set[str] = set()
    for c in commands:
        for flag, _, choices in c.flags:
            if choices and flag not in seen:
                seen.add(flag)
                lines.append(
                    f'    {flag}) COMPREPLY=($(compgen -W {quote(" ".join(choices))} -- "$cur")); return ;;'
                )
    lines += [
        "  esac",
        '  if [[ "$cur" == -* || -z "$cmd" || "$cmd" == cache ]]; then',
        '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "  else",
        '    COMPREPLY=($(compgen -f -- "$cur"))',
        "  fi",
        "}",
        "complete -o filenames -F _manywheel manywheel",
    ]
    return "\n".join(lines) + "\n"


def _zsh(parser: argparse.ArgumentParser) -> str:
    return (
        '# zsh completion for manywheel: eval "$(manywheel completion zsh)"\n'
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash(parser).split("\n", 1)[1]
    )


def _fish(parser: argparse.ArgumentParser) -> str:
    lines = ["# fish completion for manywheel: manywheel completion fish | source"]
    commands = _commands(parser)
    for c in commands:
        if " " in c.name:
            parent, child = c.name.split(" ")
            cond = (
                f"__fish_seen_subcommand_from {parent}; and not __fish_seen_subcommand_from {child}"
            )
            lines.append(f"complete -c manywheel -f -n {quote(cond)} -a {child} -d {quote(c.help)}")
        else:
            lines.append(
                f"complete -c manywheel -f -n __fish_use_subcommand -a {c.name} -d {quote(c.help)}"
            )
    for c in commands:
        cond = "__fish_seen_subcommand_from " + c.name.split(" ")[-1]
        for flag, help_text, choices in c.flags:
            opt = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
            extra = f" -x -a {quote(' '.join(choices))}" if choices else ""
            lines.append(
                f"complete -c manywheel -n {quote(cond)} {opt}{extra} -d {quote(help_text[:80])}"
            )
    return "\n".join(lines) + "\n"


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](parser)
