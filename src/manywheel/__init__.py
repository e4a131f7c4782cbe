"""manywheel: build portable manylinux wheels for many CPython versions in containers."""

from __future__ import annotations

from ._config.options import Options, load_options
from ._errors import (
    BuildFailedError,
    ConfigError,
    EngineError,
    ManywheelError,
    NothingToBuildError,
    OutputError,
)
from ._run import RunResult, build, plan
from ._version import __version__

__all__ = [
    "BuildFailedError",
    "ConfigError",
    "EngineError",
    "ManywheelError",
    "NothingToBuildError",
    "Options",
    "OutputError",
    "RunResult",
    "__version__",
    "build",
    "load_options",
    "plan",
]
