"""Write docs/cli.md: one section per command, from the parser's own --help (never out of date:
tests/unit/test_cli_docs.py fails when the file differs from what this script writes)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from manywheel._cli.completion import subcommands  # noqa: E402
from manywheel._cli.main import make_parser  # noqa: E402

INTRO = """# manywheel command reference

Generated from `manywheel COMMAND --help` by `scripts/gen-cli-docs.py`; every option flag of
`build`, `plan` and `export` is also a `[tool.manywheel]` key and a `MANYWHEEL_<KEY>` variable
(see the README for the configuration keys and their defaults).
"""


def _commands(
    parser: argparse.ArgumentParser, title: str = "manywheel"
) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(title, parser)]
    for name, (_, sub) in subcommands(parser).items():
        out += _commands(sub, f"{title} {name}")
    return out


def render() -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    try:
        parts = [INTRO]
        for title, parser in _commands(make_parser()):
            parts.append(f"\n## `{title}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "".join(parts)


if __name__ == "__main__":
    (ROOT / "docs" / "cli.md").write_text(render())
    print("wrote docs/cli.md")
