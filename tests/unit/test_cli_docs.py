"""docs/cli.md is the parser's --help, regenerated: it may not drift from the code."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen-cli-docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    assert (ROOT / "docs" / "cli.md").read_text() == expected, (
        "docs/cli.md is out of date: run python scripts/gen-cli-docs.py"
    )
