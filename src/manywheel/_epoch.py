"""SOURCE_DATE_EPOCH for a run: the time every reproducible build of the project claims.

Resolved once on the host, in this order: the user's value (an ``environment`` entry, else the
host's ``SOURCE_DATE_EPOCH``), the time of the last commit that touched the project folder
when it is in a git checkout, the timestamp of an unpacked sdist (its ``PKG-INFO``), else
:data:`DEFAULT_EPOCH`. The builds get it in their environment; the wheel archives take their
members' times from it (``_normalize``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from ._config.options import Options
from ._errors import ConfigError
from ._scripts.shell import word_value

__all__ = ["DEFAULT_EPOCH", "SourceDate", "source_date_epoch"]

NAME = "SOURCE_DATE_EPOCH"
DEFAULT_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip archive can hold
GIT_TIMEOUT = 30.0


@dataclass(frozen=True)
class SourceDate:
    value: int  # seconds since 1970-01-01T00:00:00Z
    origin: str  # where it came from, in words (for the log)


def _number(text: str, where: str) -> int:
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise ConfigError(
            f"{where}: {NAME} is {text!r}, not a whole number of seconds since 1970",
            tip=f"set it to a number, e.g. {NAME}=$(git log -1 --format=%ct), or unset it",
        )
    return int(value)


def _from_git(project: str) -> int | None:
    """The committer time of the last commit that touched ``project``, if it is in a git
    checkout and git can read it."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        r = subprocess.run(
            [git, "-C", project, "log", "-1", "--format=%ct", "--", "."],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = r.stdout.strip()
    return int(out) if r.returncode == 0 and out.isdigit() else None


def source_date_epoch(options: Options, environ: Mapping[str, str] | None = None) -> SourceDate:
    """The run's SOURCE_DATE_EPOCH (see the module's docstring); a user's value that is not a
    whole number is a ``ConfigError``."""
    for name, word in options.environment:
        if name == NAME:
            if "$" in word or "`" in word:
                raise ConfigError(
                    f"environment: {NAME} is computed in the container ({word}), but manywheel "
                    "needs its value on the host to date the wheel archives",
                    tip=f"set {NAME} to a number, or export it on the host "
                    f"({NAME}=$(git log -1 --format=%ct) manywheel build)",
                )
            return SourceDate(_number(word_value(word), "environment"), "the environment option")
    env = os.environ if environ is None else environ
    if NAME in env:
        return SourceDate(_number(env[NAME], "host environment"), "the host environment")
    project = options.project_dir
    committed = _from_git(str(project))
    if committed is not None:
        return SourceDate(committed, "the last commit of the project folder")
    try:
        return SourceDate(int((project / "PKG-INFO").stat().st_mtime), "the sdist's PKG-INFO")
    except (OSError, OverflowError, ValueError):
        pass
    return SourceDate(DEFAULT_EPOCH, "the default, 1980-01-01T00:00:00Z")
