"""setuptools, recording the config settings the frontend passed (tests read them back)."""

from pathlib import Path

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    settings = config_settings or {}
    Path("src/mw_dropin/settings.txt").write_text(str(settings.get("mw-setting", "")))
    clean = {k: v for k, v in settings.items() if k != "mw-setting"}
    return build_meta.build_wheel(wheel_directory, clean or None, metadata_directory)
