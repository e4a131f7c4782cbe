"""Reading TOML files, with errors that name the file and the place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .._errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_toml"]


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return dict(tomllib.load(f))
    except tomllib.TOMLDecodeError as e:  # type: ignore[misc,unused-ignore]
        raise ConfigError(
            f"{path}: invalid TOML: {e}", tip="fix the syntax error at the line and column shown"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
