"""The small set of errors manywheel raises, each with its documented exit code."""

from __future__ import annotations

__all__ = [
    "BuildFailedError",
    "ConfigError",
    "EngineError",
    "ManywheelError",
    "NothingToBuildError",
    "OutputError",
]


class ManywheelError(Exception):
    """Base class. ``tip`` is a one-line hint on how to fix the problem."""

    exit_code = 1

    def __init__(self, message: str, *, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip


class BuildFailedError(ManywheelError):
    """One or more targets failed to build, repair or validate (exit 1)."""

    exit_code = 1


class ConfigError(ManywheelError):
    """Invalid configuration or command line (exit 2)."""

    exit_code = 2


class NothingToBuildError(ManywheelError):
    """The selection matched no target (exit 3)."""

    exit_code = 3


class EngineError(ManywheelError):
    """The container engine is missing, unreachable or failed (exit 4)."""

    exit_code = 4


class OutputError(ManywheelError):
    """The wheels could not be written to the output folder (exit 5)."""

    exit_code = 5
