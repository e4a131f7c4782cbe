"""Code blocks of README.md, so that tests run the documentation itself (it cannot drift)."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_python_block(heading: str) -> str:
    """The first ```python block of the README section under ``heading`` (### title)."""
    text = (ROOT / "README.md").read_text()
    section = re.split(r"\n##+ ", text.split(f"\n### {heading}\n", 1)[1], maxsplit=1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python block under '### {heading}' in README.md"
    return match.group(1)
