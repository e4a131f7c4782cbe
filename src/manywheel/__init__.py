"""manywheel: build portable manylinux wheels for many CPython versions in containers.

From Python: ``build(options, listener)`` and ``plan(options, listener)``, with ``Options``
from ``load_options``; the listener is called with each ``Event`` (see the README's "Using
manywheel from Python").
"""

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
from ._events import BuildStarted, Event, EventKind, Listener, Step, Summary, TargetDone
from ._model import BuildImage, ImageFacts, Plan, Rejected, RunResult, Target, TargetResult
from ._run import build, plan
from ._version import __version__

__all__ = [
    "BuildFailedError",
    "BuildImage",
    "BuildStarted",
    "ConfigError",
    "EngineError",
    "Event",
    "EventKind",
    "ImageFacts",
    "Listener",
    "ManywheelError",
    "NothingToBuildError",
    "Options",
    "OutputError",
    "Plan",
    "Rejected",
    "RunResult",
    "Step",
    "Summary",
    "Target",
    "TargetDone",
    "TargetResult",
    "__version__",
    "build",
    "load_options",
    "plan",
]
