from importlib import resources

from ._core import greeting


def setting() -> str:
    return (resources.files(__name__) / "settings.txt").read_text()


def built_with() -> str:
    return (resources.files(__name__) / "built-with.txt").read_text().strip()


__all__ = ["built_with", "greeting", "setting"]
